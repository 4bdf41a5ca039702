"""The serving cache's change counters. Their triggers are not made here but after every
`migrate` (recommender.apps, recommender.changes): SQLite drops a table's triggers whenever a
later migration rebuilds the table."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0011_shift_leaders_view_jobs"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeCounter",
            fields=[
                (
                    "name",
                    models.CharField(
                        help_text="The counted table, e.g. runs, labels",
                        max_length=40,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "value",
                    models.BigIntegerField(
                        help_text="Never the same twice: a sequence (PostgreSQL) or a random number"
                    ),
                ),
            ],
        ),
    ]
