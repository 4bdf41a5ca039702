"""Fill the database with simulated, calibrated CMS runs and Certhelper labels."""

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.simulation.checks import persistence_evaluate
from demo.simulation.generator import simulation_generate
from demo.simulation.writer import simulation_write
from ingestion.models import Run

DEFAULT_YEARS = [2022, 2023, 2024]


def _lumisection_runs(value: str) -> int | None:
    if value.strip().lower() == "all":
        return None
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def _years(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


class Command(BaseCommand):
    help = (
        "Simulate Run-3-like fills, runs, lumisections, Certhelper reference pairs and declared references, "
        "calibrated on the real CMS dumps (demo/simulation/calibration.py). Deterministic per --seed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, required=True, help="seed of the random generator")
        parser.add_argument("--years", type=_years, help="comma-separated years (default 2022,2023,2024)")
        parser.add_argument("--start-year", type=int, help="first year (with --end-year; instead of --years)")
        parser.add_argument("--end-year", type=int, help="last year, inclusive")
        parser.add_argument(
            "--runs",
            type=int,
            help="approximate number of runs to generate (default: the natural density, about 3,250 a year)",
        )
        parser.add_argument(
            "--lumisections-for-last",
            type=_lumisection_runs,
            default=300,
            metavar="K",
            help="write per-lumisection rows for the newest K runs only (default 300); 0 writes none, "
            "'all' writes them for every run (slow: millions of rows)",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="run even if the database already has runs: fills and runs whose numbers exist are skipped, "
            "with their lumisections, reconstructions and every label or declared reference that involves them; "
            "nothing existing is changed",
        )

    def handle(self, *args, **options) -> None:
        years = options["years"] or DEFAULT_YEARS
        if options["start_year"] or options["end_year"]:
            if options["years"]:
                raise CommandError("give either --years or --start-year/--end-year")
            start = options["start_year"] or options["end_year"]
            end = options["end_year"] or start
            if end < start:
                raise CommandError("--end-year is before --start-year")
            years = list(range(start, end + 1))
        existing = Run.objects.count()
        if existing and not options["force"]:
            raise CommandError(f"the database already has {existing} runs; use --force to add the simulation anyway")
        began = time.monotonic()
        data = simulation_generate(
            seed=options["seed"],
            years=years,
            runs=options["runs"],
            lumisections_for_last=options["lumisections_for_last"],
        )
        generated = time.monotonic()
        summary = simulation_write(data=data, skip_existing=bool(existing))
        done = time.monotonic()
        self.stdout.write(f"Simulated {', '.join(map(str, years))} with seed {options['seed']}: {summary.as_text()}")
        self.stdout.write(persistence_evaluate(labels=data.labels).as_text())
        self.stdout.write(f"generated in {generated - began:.1f} s, written in {done - generated:.1f} s")
