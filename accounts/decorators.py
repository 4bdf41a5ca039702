"""Role checks for function views: a page is for shifters (shift leaders and admins
included) or for shift leaders only."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .roles import is_shift_leader, is_shifter


def shifter_required(view):
    """Logged in (else to the login page) and holding a role (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_shifter(request.user):
            raise PermissionDenied("RefRun is for shifters, shift leaders and admins.")
        return view(request, *args, **kwargs)

    return wrapper


def shift_leader_required(view):
    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_shift_leader(request.user):
            raise PermissionDenied("Only shift leaders and admins can do this.")
        return view(request, *args, **kwargs)

    return wrapper
