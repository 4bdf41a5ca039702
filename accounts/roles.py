"""Roles are Django groups. A migration creates them in every deployment
(recommender 0002_roles: the permissions it grants are on recommender's and
ingestion's models, so it runs where those exist); `role_group` recreates one that
has gone (an admin deleted it, or a test flushed the tables) with the same
permissions. Permissions are named by app label only: accounts imports neither app."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission

SHIFTERS = "shifters"
SHIFT_LEADERS = "shift_leaders"
# Shift leaders curate the reference list in the admin and read what feeds it.
# (The migration recommender 0002_roles holds a frozen copy of this list, as migrations must.)
SHIFT_LEADER_PERMISSIONS = [
    ("recommender", "add_curatedreference"),
    ("recommender", "change_curatedreference"),
    ("recommender", "delete_curatedreference"),
    ("recommender", "view_curatedreference"),
    ("recommender", "view_referencepair"),
    ("recommender", "view_runreconstruction"),
    ("ingestion", "view_run"),
    ("ingestion", "view_fill"),
    ("jobs", "view_job"),
]


def role_group(name: str) -> Group:
    group, created = Group.objects.get_or_create(name=name)
    if created and name == SHIFT_LEADERS:
        for app_label, codename in SHIFT_LEADER_PERMISSIONS:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return group


def is_shifter(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Shift leaders and admins can do everything a shifter can; a deactivated
    account nothing, whatever its groups."""
    return (
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.groups.filter(name__in=[SHIFTERS, SHIFT_LEADERS]).exists())
    )


def is_shift_leader(user: AbstractBaseUser | AnonymousUser) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.groups.filter(name=SHIFT_LEADERS).exists())
    )
