import pytest
from django.contrib.auth.models import Group

from accounts.roles import SHIFT_LEADERS, role_group

pytestmark = pytest.mark.django_db


def test_it_recreates_a_deleted_shift_leader_group_with_its_permissions():
    Group.objects.filter(name=SHIFT_LEADERS).delete()

    group = role_group(SHIFT_LEADERS)

    assert group.permissions.filter(codename="change_declaredreference").exists()
    assert role_group(SHIFT_LEADERS) == group


def test_a_users_roles_are_read_once_per_request_and_follow_a_change_of_groups(django_assert_num_queries):
    from accounts.roles import is_shift_leader, is_shifter
    from tests.factories import UserFactory

    user = UserFactory(username="tom", groups=["shifters"])
    with django_assert_num_queries(1):
        assert is_shifter(user) and not is_shift_leader(user) and is_shifter(user)

    user.groups.add(role_group(SHIFT_LEADERS))
    assert is_shift_leader(user)
    user.groups.clear()
    assert not is_shifter(user)
