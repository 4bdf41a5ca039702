"""Retrain the recommender now: the nightly task's service, run synchronously."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.services import JobAlreadyRunning
from recommender.exceptions import NotEnoughLabels


class Command(BaseCommand):
    help = "Fit a model on the labels in the database; activate it unless it is worse than the active one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="train even if the labels did not change")

    def handle(self, *args, **options):
        from recommender.training import model_version_train

        try:
            result = model_version_train(force=options["force"])
        except (NotEnoughLabels, JobAlreadyRunning) as error:
            raise CommandError(str(error)) from error
        if result.status != "trained":
            self.stdout.write(f"{result.status}: {result.message}")
            return
        version = result.model_version
        state = "activated" if result.activated else "kept as candidate (worse than the active model)"
        self.stdout.write(f"model #{version.pk} {state}; evaluation on the newest labels: {version.evaluation}")
