"""The job record moves here from ingestion (where it was IngestionJob), keeping
its table: state only, no SQL. ingestion's 0001 created the table, hence the
dependency; ingestion's 0005 drops the model from ingestion's state."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("ingestion", "0004_jobs_sweep_schedule")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Job",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("oms_dump_import", "OMS dump import"),
                                    ("pairs_import", "Certhelper pairs import"),
                                    ("oms_sync", "OMS sync"),
                                    ("certhelper_sync", "Certhelper sync"),
                                    ("training", "Model training"),
                                ],
                                max_length=30,
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("running", "Running"),
                                    ("succeeded", "Succeeded"),
                                    ("failed", "Failed"),
                                ],
                                default="pending",
                                max_length=20,
                            ),
                        ),
                        ("parameters", models.JSONField(blank=True, default=dict)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("progress_done", models.PositiveIntegerField(default=0)),
                        ("progress_total", models.PositiveIntegerField(blank=True, null=True)),
                        ("rows_created", models.PositiveIntegerField(default=0)),
                        ("rows_updated", models.PositiveIntegerField(default=0)),
                        ("rows_unchanged", models.PositiveIntegerField(default=0)),
                        ("rows_skipped", models.PositiveIntegerField(default=0)),
                        (
                            "errors",
                            models.JSONField(blank=True, default=list, help_text="Rejected rows: file, line, reason"),
                        ),
                        ("message", models.TextField(blank=True)),
                    ],
                    options={
                        "db_table": "ingestion_ingestionjob",
                        "ordering": ["-created_at"],
                        "indexes": [models.Index(fields=["kind", "-created_at"], name="job_kind_created_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
