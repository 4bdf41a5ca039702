from django.db import migrations, models


def duplicate_ranks_delete(apps, schema_editor):
    """Before the constraint: two concurrent page views could store the same ranking twice
    (the page wrote then). Keep the newest row of each (run reconstruction, model version,
    rank); the older copies hold the same or an outdated ranking."""
    Recommendation = apps.get_model("recommender", "Recommendation")
    seen = set()
    stale = []
    rows = Recommendation.objects.exclude(model_version=None).order_by(
        "run_reconstruction_id", "model_version_id", "rank", "-created_at", "-id"
    )
    for pk, key in ((r[0], r[1:]) for r in rows.values_list("id", "run_reconstruction_id", "model_version_id", "rank")):
        if key in seen:
            stale.append(pk)
        else:
            seen.add(key)
    for start in range(0, len(stale), 500):
        Recommendation.objects.filter(pk__in=stale[start : start + 500]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("recommender", "0012_change_counter"),
    ]

    operations = [
        migrations.RunPython(duplicate_ranks_delete, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="recommendation",
            constraint=models.UniqueConstraint(
                fields=("run_reconstruction", "model_version", "rank"), name="recommendation_unique_rank"
            ),
        ),
    ]
