"""Serve a local OMS + SSO token endpoint + Certhelper export + the APV-mode and DIALS
doubles (development and tests).

manage.py fake_oms --port 8765                      the demo's runs from RefRun's database
manage.py fake_oms --port 8765 --data ../shared/data   the shared CMS dumps
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from demo.fake_conditions import urls as conditions_urls
from demo.fake_oms import CERTHELPER_PATH, TOKEN_PATH, FakeOmsData, make_server
from demo.fake_runregistry import RUNREGISTRY_PREFIX


class Command(BaseCommand):
    help = "Run a fake OMS/Certhelper HTTP server with fault injection (POST /_faults)."
    # A stand-alone server: it needs the models, not the URL configuration the checks load.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
        parser.add_argument("--data", type=Path, help="directory of the shared dumps (else RefRun's database)")
        parser.add_argument("--token-ttl", type=int, default=600, help="token lifetime, s")

    def handle(self, *args, host, port, data, token_ttl, **options):
        if data is not None:
            if not data.is_dir():
                raise CommandError(f"--data {data}: not a directory")
            dataset = FakeOmsData.from_dumps(data)
        else:
            dataset = FakeOmsData.from_database()
        server = make_server(dataset, host=host, port=port, token_ttl_s=token_ttl)
        url = server.url
        self.stdout.write(
            f"fake OMS on {url}: {len(dataset.runs)} runs, {len(dataset.fills)} fills, "
            f"{dataset.lumisection_count} lumisections, {len(dataset.certhelper_pairs)} Certhelper pairs\n"
            f"  OMS_API_URL={url}/agg/api\n"
            f"  OMS_TOKEN_URL={url}{TOKEN_PATH}\n"
            f"  CERTHELPER_URL={url}{CERTHELPER_PATH}\n"
            + "".join(f"  {name}={value}\n" for name, value in conditions_urls(url).items())
            + f"  DIALS_TOKEN_URL={url}{TOKEN_PATH}\n"
            f"  RUNREGISTRY_API_URL={url}{RUNREGISTRY_PREFIX} ({len(dataset.runregistry.datasets)} datasets)\n"
            f"  (any OMS_CLIENT_ID / OMS_CLIENT_SECRET is accepted)"
        )
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
