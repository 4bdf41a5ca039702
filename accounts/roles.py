"""Roles are Django groups. A migration creates them in every deployment
(recommender 0002_roles: the permissions it grants are on recommender's and
ingestion's models, so it runs where those exist); `role_group` recreates one that
has gone (an admin deleted it, or a test flushed the tables) with the same
permissions. Permissions are named by app label only: accounts imports neither app."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group, Permission

SHIFTERS = "shifters"
SHIFT_LEADERS = "shift_leaders"
# Shift leaders declare and end references (never delete one: the history stays) and
# read what feeds them. (The migrations recommender 0002_roles and 0014_declared_references
# hold frozen copies of this list, as migrations must.)
SHIFT_LEADER_PERMISSIONS = [
    ("recommender", "add_declaredreference"),
    ("recommender", "change_declaredreference"),
    ("recommender", "view_declaredreference"),
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


def _roles_of(user: AbstractBaseUser) -> frozenset[str]:
    """The role groups a user is in, read once per user object: the authentication
    middleware loads the user afresh for each request, and one page asks two or
    three times (the view's decorator, the template, the view). A change of the
    user's own groups forgets it (`roles_forget`)."""
    try:
        return user._refrun_roles
    except AttributeError:
        names = user.groups.filter(name__in=[SHIFTERS, SHIFT_LEADERS]).values_list("name", flat=True)
        user._refrun_roles = frozenset(names)
        return user._refrun_roles


def roles_forget(sender, instance, action: str, reverse: bool, **kwargs) -> None:
    """m2m_changed receiver of User.groups (accounts.apps)."""
    if action.startswith("post_") and not reverse:
        instance.__dict__.pop("_refrun_roles", None)


def is_shifter(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Shift leaders and admins can do everything a shifter can; a deactivated
    account nothing, whatever its groups."""
    return user.is_authenticated and user.is_active and (user.is_superuser or bool(_roles_of(user)))


def is_shift_leader(user: AbstractBaseUser | AnonymousUser) -> bool:
    return user.is_authenticated and user.is_active and (user.is_superuser or SHIFT_LEADERS in _roles_of(user))
