"""ModelVersion.was_ever_active: a version that served recommendations is never deleted
in the admin (issue 21, finding 7c). Before the flag, a version that was ever active is
the active one, a retired one (only an activation retires the version it replaces), or
one with an activation time."""

from django.db import migrations, models
from django.db.models import Q


def mark_versions_ever_active(apps, schema_editor):
    ModelVersion = apps.get_model("recommender", "ModelVersion")
    ModelVersion.objects.filter(Q(status__in=["active", "retired"]) | Q(activated_at__isnull=False)).update(
        was_ever_active=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0014_declared_references"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="was_ever_active",
            field=models.BooleanField(default=False, editable=False, help_text="It served recommendations once"),
        ),
        migrations.RunPython(mark_versions_ever_active, migrations.RunPython.noop),
    ]
