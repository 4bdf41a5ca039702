import pytest
from django.contrib.auth.models import Group

from accounts.roles import SHIFT_LEADERS, role_group

pytestmark = pytest.mark.django_db


def test_it_recreates_a_deleted_shift_leader_group_with_its_permissions():
    Group.objects.filter(name=SHIFT_LEADERS).delete()

    group = role_group(SHIFT_LEADERS)

    assert group.permissions.filter(codename="change_curatedreference").exists()
    assert role_group(SHIFT_LEADERS) == group
