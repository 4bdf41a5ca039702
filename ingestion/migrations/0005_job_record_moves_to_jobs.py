"""The job record now belongs to the neutral `jobs` app (jobs.Job, same table): drop
it from ingestion's state and point SyncChunk.job at it. No SQL: the table, its rows
and the foreign key's constraint stay as they are."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0004_jobs_sweep_schedule"),
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="syncchunk",
                    name="job",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="chunks",
                        to="jobs.job",
                    ),
                ),
                migrations.DeleteModel(name="IngestionJob"),
            ],
            database_operations=[],
        ),
    ]
