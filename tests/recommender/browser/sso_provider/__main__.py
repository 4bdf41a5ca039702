import json
import os
import sys

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.recommender.browser.sso_provider.settings"

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402


def setup() -> None:
    """Create the database, the people and RefRun's client registration."""
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0)
    for username, person in json.loads(os.environ["SSO_PROVIDER_USERS"]).items():
        user = User.objects.create_user(username, f"{username}@cern.ch", person["password"])
        user.first_name = person.get("given_name", "")
        user.save()
        roles([username, *person["roles"]])
    client = json.loads(os.environ["SSO_PROVIDER_CLIENT"])
    Application.objects.create(
        name="RefRun",
        client_id=client["client_id"],
        client_secret=client["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=client["redirect_uri"],
        post_logout_redirect_uris=client["post_logout_redirect_uri"],
        algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True,
    )


def roles(arguments: list[str]) -> None:
    """What an administrator does in the CERN application portal."""
    username, *names = arguments
    user = User.objects.get(username=username)
    user.groups.set([Group.objects.get_or_create(name=name)[0] for name in names])


def serve(port: int) -> None:
    from django.core.servers.basehttp import WSGIServer, run
    from django.core.wsgi import get_wsgi_application

    setup()
    print("ready", flush=True)
    run("127.0.0.1", port, get_wsgi_application(), threading=True, server_cls=WSGIServer)


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "serve":
        serve(int(rest[0]))
    elif command == "roles":
        roles(rest)
    else:
        sys.exit(f"unknown command {command!r}")
