from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ingestion", "0008_run_apv_mode_asked_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="dqmio_datasets",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The DQMIO datasets DIALS lists for the run (the DQM GUI's dataset names), sorted",
            ),
        ),
    ]
