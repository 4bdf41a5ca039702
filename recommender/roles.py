"""Roles are Django groups, created by a migration so every deployment has them."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

SHIFTERS = "shifters"
SHIFT_LEADERS = "shift_leaders"


def is_shifter(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Shift leaders and admins can do everything a shifter can."""
    return user.is_authenticated and (
        user.is_superuser or user.groups.filter(name__in=[SHIFTERS, SHIFT_LEADERS]).exists()
    )


def is_shift_leader(user: AbstractBaseUser | AnonymousUser) -> bool:
    return user.is_authenticated and (user.is_superuser or user.groups.filter(name=SHIFT_LEADERS).exists())
