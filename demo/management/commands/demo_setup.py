"""Prepare a demo database: demo users, and data if there is none."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import SHIFT_LEADERS, SHIFTERS, role_group
from demo.simulation.writer import runs_hold_back
from ingestion.models import Run
from recommender.services import recommendations_refresh
from recommender.training import model_version_train

# username = password; only ever created with REFRUN_DEMO=true.
# (username, group, is_staff, is_superuser): shift leaders curate references in the admin.
DEMO_USERS = [
    ("shifter", SHIFTERS, False, False),
    ("leader", SHIFT_LEADERS, True, False),
    ("admin", None, True, True),
]


class Command(BaseCommand):
    help = (
        "Demo mode only (REFRUN_DEMO=true): create the users shifter/shifter, leader/leader and admin/admin, "
        "and, if there are no runs, load the real dumps from REFRUN_DATA or else simulate (--seed 1)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--hold-back-runs",
            type=int,
            default=0,
            help="after simulating, delete the newest N runs, so the first sync from the local OMS brings them in",
        )

    def handle(self, *args, hold_back_runs: int = 0, **options) -> None:
        if not settings.DEMO:
            raise CommandError("demo_setup creates users with known passwords; it only runs with REFRUN_DEMO=true")
        User = get_user_model()
        for username, group, staff, superuser in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                # Possibly someone's real account (a database reused for the demo):
                # its password and rights are never touched.
                self.stdout.write(f"kept existing user {username} as it is (its password is not changed)")
                continue
            user = User(username=username, is_staff=staff, is_superuser=superuser)
            user.set_password(username)
            user.save()
            if group:
                user.groups.add(role_group(group))
            self.stdout.write(f"created demo user {username}/{username}")
        if Run.objects.exists():
            self.stdout.write(f"the database has {Run.objects.count()} runs: nothing loaded")
            return
        if settings.REFRUN_DATA:
            data = settings.REFRUN_DATA.rstrip("/")
            self.stdout.write(f"loading the real CMS dumps from {data}")
            call_command("import_oms_dump", data, stdout=self.stdout, stderr=self.stderr)
            call_command("import_pairs", f"{data}/certhelper_pairs.csv.gz", stdout=self.stdout, stderr=self.stderr)
        else:
            self.stdout.write("no REFRUN_DATA: loading the simulation (seed 1)")
            call_command("simulate", seed=1, stdout=self.stdout, stderr=self.stderr)
            if hold_back_runs:
                held = runs_hold_back(count=hold_back_runs)
                self.stdout.write(f"held back runs {min(held)}-{max(held)}: the local OMS has them for the first sync")
        self.stdout.write(f"loaded: {Run.objects.count()} runs")
        result = model_version_train()
        self.stdout.write(f"model: {result.status} {result.message}".rstrip())
        stored = recommendations_refresh(newest_runs=100)
        self.stdout.write(f"stored recommendations for {stored} run reconstructions")
