from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0007_runregistry_tracker_certification"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="apv_mode_asked_at",
            field=models.DateTimeField(
                blank=True,
                help_text="When the APV mode service was last asked about this run and knew no mode "
                "(asked again only APV_MODE_RETRY_HOURS later)",
                null=True,
            ),
        ),
    ]
