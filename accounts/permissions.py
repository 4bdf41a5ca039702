from rest_framework.permissions import BasePermission

from .roles import is_shift_leader, is_shifter


class IsShifter(BasePermission):
    """Shifters, shift leaders and admins; an account with no role sees nothing."""

    message = "Only shifters, shift leaders and admins can use RefRun."

    def has_permission(self, request, view) -> bool:
        return is_shifter(request.user)


class IsShiftLeader(BasePermission):
    """Shift leaders and admins."""

    message = "Only shift leaders and admins can do this."

    def has_permission(self, request, view) -> bool:
        return is_shift_leader(request.user)
