"""SsoIdentity, LoginThrottle and LoginKnownAddress now belong to the accounts app,
which keeps their tables (accounts 0001): recommender forgets them without touching
the database. Their content types are renamed too, so the permissions granted on
them (and the admin's history) follow the models instead of going stale."""

from django.db import migrations

MOVED = ["ssoidentity", "loginthrottle", "loginknownaddress"]


def content_types_to_accounts(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        # A fresh database may already have the accounts one (created from the state): keep that.
        if not ContentType.objects.filter(app_label="accounts", model=model).exists():
            ContentType.objects.filter(app_label="recommender", model=model).update(app_label="accounts")


def content_types_to_recommender(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if not ContentType.objects.filter(app_label="recommender", model=model).exists():
            ContentType.objects.filter(app_label="accounts", model=model).update(app_label="recommender")


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0009_login_records_prune_schedule"),
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SsoIdentity"),
                migrations.DeleteModel(name="LoginThrottle"),
                migrations.DeleteModel(name="LoginKnownAddress"),
            ]
        ),
        migrations.RunPython(content_types_to_accounts, content_types_to_recommender),
    ]
