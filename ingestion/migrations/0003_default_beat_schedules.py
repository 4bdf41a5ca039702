"""Once seeded beat rows; now a no-op. The beat table is defined once, in
refrun/beat.py, and jobs.beat.beat_rows_sync creates the missing rows after every
migrate (and applies REFRUN_BEAT_* overrides). Existing databases keep the rows
this migration created; the sync matches them by name and keeps admin edits. Kept,
empty, so the migration graph of existing databases stays valid."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ingestion", "0002_sync_chunk_and_state"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
