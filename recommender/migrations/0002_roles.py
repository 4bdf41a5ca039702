from django.contrib.auth.management import create_permissions
from django.db import migrations

SHIFTERS = "shifters"
SHIFT_LEADERS = "shift_leaders"
# Shift leaders curate the reference list in the admin and read what feeds it.
# Frozen here on purpose: accounts.roles.SHIFT_LEADER_PERMISSIONS is the live list.
SHIFT_LEADER_PERMISSIONS = [
    ("recommender", "add_curatedreference"),
    ("recommender", "change_curatedreference"),
    ("recommender", "delete_curatedreference"),
    ("recommender", "view_curatedreference"),
    ("recommender", "view_referencepair"),
    ("recommender", "view_runreconstruction"),
    ("ingestion", "view_run"),
    ("ingestion", "view_fill"),
    ("ingestion", "view_ingestionjob"),
]


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    Group.objects.get_or_create(name=SHIFTERS)
    leaders, _ = Group.objects.get_or_create(name=SHIFT_LEADERS)
    for app_label, codename in SHIFT_LEADER_PERMISSIONS:
        # filter, not get: on a new database ingestion's job model may already have
        # moved to the jobs app (0011_shift_leaders_view_jobs grants its permission).
        leaders.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=[SHIFTERS, SHIFT_LEADERS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0001_initial"),
        ("ingestion", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
