"""The fake_oms command: serves the local OMS from RefRun's own database."""

import io
import threading
import time

import requests
from django.core.management import call_command
from django.db import connections


def test_it_serves_the_fake_from_the_command(db, monkeypatch):
    from demo import fake_oms as fake_module

    servers = []
    real_make_server = fake_module.make_server

    def capture(*args, **kwargs):
        servers.append(real_make_server(*args, **kwargs))
        return servers[-1]

    monkeypatch.setattr("demo.management.commands.fake_oms.make_server", capture)
    out = io.StringIO()

    def serve():
        try:
            call_command("fake_oms", "--port", "0", stdout=out)
        finally:
            connections.close_all()  # this thread's own database connection

    thread = threading.Thread(target=serve)
    thread.start()
    deadline = time.monotonic() + 10
    while not servers and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    try:
        assert requests.get(f"{servers[0].url}/_faults", timeout=5).json()["faults"] == []
        assert "OMS_API_URL=" in out.getvalue()
        assert "RUNREGISTRY_API_URL=" in out.getvalue()
    finally:
        servers[0].shutdown()
        thread.join(timeout=10)
