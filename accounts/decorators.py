"""Role checks for function views: a page is for shifters (shift leaders and admins
included) or for shift leaders only."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from .roles import is_shift_leader, is_shifter


def _role_required(holds_role: Callable, refusal: str):
    # One factory for both roles, so that the order of the checks (login first, then
    # the role) cannot drift between them.
    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not holds_role(request.user):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


#: Logged in (else to the login page) and holding a role (else 403).
shifter_required = _role_required(is_shifter, "RefRun is for shifters, shift leaders and admins.")
#: Logged in (else to the login page) and a shift leader or admin (else 403).
shift_leader_required = _role_required(is_shift_leader, "Only shift leaders and admins can do this.")
