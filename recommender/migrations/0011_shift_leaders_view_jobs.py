"""Shift leaders keep reading the job record now that it is jobs.Job (it was
ingestion.IngestionJob): grant jobs.view_job, and delete the content type of the
old model (and with it its permissions), which no model answers to any more."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SHIFT_LEADERS = "shift_leaders"


def grant_view_job(apps, schema_editor):
    jobs_config = apps.get_app_config("jobs")
    # Permissions are normally created after all migrations; the group needs this one now.
    jobs_config.models_module = True
    create_permissions(jobs_config, verbosity=0, apps=apps)
    jobs_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    leaders, _ = Group.objects.get_or_create(name=SHIFT_LEADERS)
    leaders.permissions.add(Permission.objects.get(content_type__app_label="jobs", codename="view_job"))
    ContentType.objects.filter(app_label="ingestion", model="ingestionjob").delete()


def revoke_view_job(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    leaders = Group.objects.filter(name=SHIFT_LEADERS).first()
    if leaders is not None:
        leaders.permissions.remove(*Permission.objects.filter(content_type__app_label="jobs", codename="view_job"))


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0010_auth_models_to_accounts"),
        ("ingestion", "0005_job_record_moves_to_jobs"),
        ("jobs", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant_view_job, revoke_view_job)]
