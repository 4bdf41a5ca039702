"""Move the model artifacts kept in files under MODEL_DIR into the database."""

from django.core.management.base import BaseCommand, CommandError

from recommender.exceptions import ModelArtifactError
from recommender.models import ArtifactStore, ModelVersion


class Command(BaseCommand):
    help = (
        "Copy every model version's artifact file into the database (checked against its sha256), so that pods "
        "without MODEL_DIR can load it. Run it on the machine that has the files; the files are kept."
    )

    def handle(self, *args, **options):
        from recommender.artifacts import artifact_move_to_database

        refused = []
        for version_id in (
            ModelVersion.objects.filter(store=ArtifactStore.FILES).order_by("pk").values_list("pk", flat=True)
        ):
            try:
                artifact_move_to_database(model_version_id=version_id)
            except ModelArtifactError as error:
                refused.append(version_id)
                self.stderr.write(f"model #{version_id} left in files: {error}")
            else:
                self.stdout.write(f"model #{version_id} now in the database")
        if refused:
            raise CommandError(f"{len(refused)} version(s) could not be moved: {refused}")
