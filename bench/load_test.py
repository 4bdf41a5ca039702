"""Load test: RefRun served by gunicorn against PostgreSQL, 50 logged-in shifters.

    .venv/bin/python bench/load_test.py --database-url postgres://postgres@127.0.0.1:5432/refrun_bench \
        --work-dir $TMP [--clients 50] [--duration 120] [--workers 3] [--write]
    .venv/bin/python bench/load_test.py ... --base-url http://127.0.0.1:PORT [--server-pid PID]

With --base-url it starts no gunicorn and loads a server already running on this
machine on the same database (e.g. the web container, deploy/README.md); the CPU
figure then counts the children of --server-pid (the gunicorn arbiter's pid).

The database (--database-url or DATABASE_URL; model and var files under --work-dir or
REFRUN_BENCH_DIR, see bench/_pages.py) is built on demand: `simulate --seed 1 --runs
20000 --lumisections-for-last 300`, then `train`; the refresh task then stores the
recommendations of the newest runs awaiting a reference, as after a sync. Never point
it at a database you keep: the script adds users load-NN and deletes their earlier decisions.

Each client is a thread with its own requests.Session: it logs in through /login/
(CSRF token from the form), then, until the time is up, loops over
  GET the runs page (one of the first pages) -> GET a run page (mostly among the
  300 newest runs, else any run) -> half the time POST /api/feedback/ (session
  cookie + X-CSRFToken) accepting or rejecting that page's first choice,
with a random think time between requests. Traffic goes to 127.0.0.1 only, bounded
by --duration and --max-requests. At the end the Feedback rows written by the load
users are counted in the database and must equal the feedback posts answered 201;
then they are deleted (with their labels), and so are the load users themselves,
so the database is left as it was.
`--write` puts the figures in the "Load" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import atexit
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from html import unescape as html_unescape
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._common import REPO, database_prepare, machine, median, percentile, section_write
from bench._pages import arguments_add, command_line, environment

HOST = "127.0.0.1"  # loopback only
USER_PREFIX = "load-"
PASSWORD = "load-test-password-not-secret"
KINDS = ("login", "runs page", "run page", "feedback post")
HIDDEN_INPUT = r'name="{name}"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="{name}"'


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    feedback_2xx: int = 0
    requests: int = 0

    def record(self, kind: str, seconds: float, error: str = "") -> None:
        with self.lock:
            self.requests += 1
            self.latencies[kind].append(seconds)
            if error:
                self.errors[kind].append(error)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, s."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def postgres_pids() -> list[int]:
    """Every PostgreSQL process on this machine: the server and its backends."""
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def total_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return total


def gunicorn_start(args, env: dict[str, str], port: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "refrun.wsgi:application",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        "--log-level",
        "warning",
    ]
    log = open(Path(env["REFRUN_VAR_DIR"]) / "gunicorn.log", "w")  # the child keeps it open
    process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    # Generous: on a busy machine three workers importing Django and scikit-learn took over a minute.
    deadline = time.monotonic() + 240
    while True:
        try:
            if requests.get(f"http://{HOST}:{port}/login/", timeout=5).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.terminate()  # not left serving after the script gives up on it
            raise SystemExit(f"gunicorn did not start; see {log.name}")
        time.sleep(0.3)


def users_prepare(n: int) -> list[str]:
    """n shifters load-00.. with one known password; their earlier decisions deleted."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from accounts.roles import SHIFTERS
    from recommender.models import Feedback

    user_model = get_user_model()
    names = [f"{USER_PREFIX}{i:02d}" for i in range(n)]
    hashed = make_password(PASSWORD)  # hashed once: the users share it
    shifters = Group.objects.get(name=SHIFTERS)
    for name in names:
        user, _ = user_model.objects.get_or_create(username=name)
        user.password = hashed
        user.save(update_fields=["password"])
        user.groups.add(shifters)
    # Their labels go with them (ReferencePair.feedback cascades).
    Feedback.objects.filter(user__username__startswith=USER_PREFIX).delete()
    return names


def users_remove(names: list[str]) -> None:
    """Delete the load users (and with them their decisions and labels): no account
    with a known password stays in the database."""
    from django.contrib.auth import get_user_model

    from recommender.models import Feedback

    Feedback.objects.filter(user__username__in=names).delete()
    get_user_model().objects.filter(username__in=names).delete()


def targets() -> tuple[list[int], list[int], int]:
    """(newest 300 runs, a sample of older runs, number of runs-page pages)."""
    from ingestion.models import Run

    numbers = list(Run.objects.order_by("-run_number").values_list("run_number", flat=True))
    rng = random.Random(7)
    newest, older = numbers[:300], rng.sample(numbers[300:], min(2000, len(numbers) - 300))
    return newest, older, max(1, len(numbers) // 50)


def feedback_written() -> int:
    from recommender.models import Feedback

    return Feedback.objects.filter(user__username__startswith=USER_PREFIX).count()


def hidden_text(html: str, name: str) -> str | None:
    match = re.search(HIDDEN_INPUT.format(name=re.escape(name)), html)
    return None if match is None else html_unescape(match.group(1) or match.group(2) or "")


def hidden_value(html: str, name: str) -> int | None:
    text = hidden_text(html, name)
    return int(text) if text and text.isdigit() else None


class Client(threading.Thread):
    def __init__(self, index: int, username: str, base: str, plan, results: Results, args, start_gate, stop_at):
        super().__init__(name=f"client-{index}", daemon=True)
        self.username, self.base, self.plan, self.results, self.args = username, base, plan, results, args
        self.rng = random.Random(1000 + index)
        self.session = requests.Session()
        self.start_gate, self.stop_at = start_gate, stop_at
        self.logged_in = False

    def timed(
        self, kind: str, method: str, path: str, expect: int | tuple[int, ...], **kwargs
    ) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, timeout=30, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.results.record(kind, time.perf_counter() - started, f"{type(exc).__name__}")
            return None
        elapsed = time.perf_counter() - started
        expected = expect if isinstance(expect, tuple) else (expect,)
        error = ""
        if response.status_code not in expected:
            # the answer's first words say which check refused it
            error = f"HTTP {response.status_code} {path}: {response.text[:200]!r}"
        self.results.record(kind, elapsed, error)
        return response if not error else None

    def login(self) -> None:
        page = self.timed("login", "GET", "/login/", 200)
        if page is None:
            return
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        answer = self.timed(
            "login",
            "POST",
            "/login/",
            302,
            data={"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token and token.group(1)},
        )
        self.logged_in = answer is not None and "sessionid" in self.session.cookies

    def think(self) -> None:
        time.sleep(self.rng.uniform(0, 2 * self.args.think))

    def run(self) -> None:
        self.login()
        self.start_gate.wait()
        newest, older, pages = self.plan
        while self.logged_in and time.monotonic() < self.stop_at[0] and self.results.requests < self.args.max_requests:
            self.timed("runs page", "GET", f"/?page={self.rng.randint(1, min(5, pages))}", 200)
            self.think()
            run_number = self.rng.choice(newest if self.rng.random() < 0.8 else older)
            page = self.timed("run page", "GET", f"/runs/{run_number}/", 200)
            self.think()
            if page is None or self.rng.random() >= 0.5 or time.monotonic() >= self.stop_at[0]:
                continue
            recommended = hidden_value(page.text, "recommended_run_number")
            if recommended is None:
                continue  # no recommendation on this page: nothing to decide
            body = {
                "run_number": run_number,
                "reconstruction": "express",
                "decision": "accepted",
                "recommended_run_number": recommended,
                "model_version_id": hidden_value(page.text, "model_version_id"),
                # as the page's form sends it: what the page showed, signed
                "shown": hidden_text(page.text, "shown") or "",
            }
            if self.rng.random() < 0.25:
                body.update(decision="rejected", reason="load test: another reference is closer")
            answer = self.timed(
                "feedback post",
                "POST",
                "/api/feedback/",
                # 409: another load user decided on this run first (the decision policy);
                # 200: this user's identical decision was already recorded.
                (201, 200, 409),
                json=body,
                headers={"X-CSRFToken": self.session.cookies.get("csrftoken", "")},
            )
            if answer is not None and answer.status_code == 201:
                with self.results.lock:
                    self.results.feedback_2xx += 1
            self.think()


def warm_up(base: str, username: str, plan, workers: int) -> None:
    """Every worker loads the model, the run features and the labels before the clock starts."""
    newest, _, _ = plan

    def one(i: int) -> None:
        session = requests.Session()
        page = session.get(base + "/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        session.post(base + "/login/", data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token})
        for run_number in newest[i * 3 : i * 3 + 3]:
            session.get(f"{base}/runs/{run_number}/", timeout=60)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2 * workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments_add(parser)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of browsing (after the logins)")
    parser.add_argument("--think", type=float, default=0.5, help="mean think time between requests, s")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument(
        "--omp-threads",
        default="1",
        help="OMP_NUM_THREADS of the gunicorn workers ('default': OpenMP's own choice, one thread per core)",
    )
    parser.add_argument("--max-requests", type=int, default=200_000, help="hard cap on requests sent")
    parser.add_argument("--write", action="store_true", help="write the figures to BENCHMARKS.md")
    parser.add_argument("--base-url", default="", help="load this running server instead of starting gunicorn")
    parser.add_argument("--server-pid", type=int, default=0, help="with --base-url: the gunicorn arbiter's pid")
    parser.add_argument("--port", type=int, default=0, help="port of the gunicorn it starts (default: a free one)")
    args = parser.parse_args()
    args.duration = min(args.duration, 600.0)  # bounded whatever is asked

    env = environment(args, allowed_hosts="127.0.0.1,localhost")
    if args.omp_threads != "default":
        env["OMP_NUM_THREADS"] = args.omp_threads
    print(f"database {env['DATABASE_URL']}; preparing (built only if empty)", flush=True)
    database_prepare(env, runs=args.runs, lumisections_for_last="300")
    os.environ.update(env)
    import django

    django.setup()
    from recommender.models import Recommendation
    from recommender.services import recommendations_refresh

    if not Recommendation.objects.filter(model_version__status="active").exists():
        print(f"  refresh: {recommendations_refresh(newest_runs=300)} run reconstructions stored", flush=True)
    names = users_prepare(args.clients)
    # Also when the run stops on an error: no known password is left in the database.
    atexit.register(users_remove, names)
    plan = targets()
    before = feedback_written()
    machine_line = machine()

    if args.base_url:
        base, server = args.base_url.rstrip("/"), None
        if not base.startswith(f"http://{HOST}:"):
            raise SystemExit(f"--base-url must be on this machine: http://{HOST}:PORT")
    else:
        port = args.port or free_port()
        base = f"http://{HOST}:{port}"
        server = gunicorn_start(args, env, port)
    results = Results()
    try:
        workers = children(server.pid if server else args.server_pid) if (server or args.server_pid) else []
        if server:
            print(
                f"gunicorn {args.worker_class} x{args.workers} (threads {args.threads}) on {base}; warming up",
                flush=True,
            )
        else:
            print(f"the server on {base} ({len(workers)} workers seen); warming up", flush=True)
        warm_up(base, names[0], plan, max(args.workers, len(workers)))
        gate = threading.Barrier(args.clients + 1, timeout=300)
        stop_at = [float("inf")]
        clients = [
            Client(i, name, base, plan, results, args, gate, stop_at) for i, name in enumerate(names[: args.clients])
        ]
        login_started = time.perf_counter()
        for c in clients:
            c.start()
        gate.wait()  # every client has logged in (or failed to)
        print(f"{args.clients} clients logged in in {time.perf_counter() - login_started:.1f} s; browsing", flush=True)
        logins = list(results.latencies["login"])
        with results.lock:
            results.latencies.clear()
            login_errors = results.errors.pop("login", [])
            results.requests = 0
        cpu_app, (busy0, _) = total_cpu(workers), machine_busy()
        cpu_db, cpu_clients = total_cpu(postgres_pids()), time.process_time()
        began = time.perf_counter()
        stop_at[0] = time.monotonic() + args.duration
        for c in clients:
            c.join(timeout=args.duration + 60)
        wall = time.perf_counter() - began
        cpu_app, cpu_all = total_cpu(workers) - cpu_app, machine_busy()[0] - busy0
        # Backends that ended during the browsing are not counted: Django keeps its
        # connections (DB_CONN_MAX_AGE), so the workers' backends live through the run.
        cpu_db, cpu_clients = total_cpu(postgres_pids()) - cpu_db, time.process_time() - cpu_clients
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()

    written = feedback_written() - before
    # Leave the database as it was: the next run (and bench_run_page.py) sees the same
    # labels, and no load-NN account with a known password is left behind.
    users_remove(names)
    total = sum(len(v) for v in results.latencies.values())
    errors = sum(len(v) for v in results.errors.values())
    rows = []
    for kind in KINDS:
        samples = logins if kind == "login" else results.latencies.get(kind, [])
        errs = login_errors if kind == "login" else results.errors.get(kind, [])
        rows.append((kind, len(samples), median(samples) * 1000, percentile(samples, 95) * 1000, len(errs)))
    table = ["| request | n | median ms | p95 ms | errors |", "|---|---|---|---|---|"]
    table += [f"| {k} | {n} | {m:.0f} | {p:.0f} | {e} |" for k, n, m, p, e in rows]
    options = [f"--runs {args.runs}", f"--clients {args.clients}", f"--duration {args.duration:g}"]
    options += [f"--think {args.think:g}", f"--workers {args.workers}", f"--worker-class {args.worker_class}"]
    options += [f"--omp-threads {args.omp_threads}"]
    options += [f"--threads {args.threads}"] if args.worker_class == "gthread" else []
    command = command_line(args, "load_test.py", *options)
    lines = [
        f"- **{total / wall:.1f} requests/s** over {wall:.0f} s ({total} requests, {args.clients} clients), "
        f"**{errors} errors**" + (f" (+{len(login_errors)} at login)" if login_errors else ""),
        f"- Feedback: {results.feedback_2xx} posts answered 201, {written} Feedback rows written: "
        + ("**equal**" if written == results.feedback_2xx else "**DIFFERENT**"),
        f"- CPU during the browsing (2 cores): gunicorn workers {cpu_app / wall:.2f} cores "
        f"({1000 * cpu_app / max(total, 1):.0f} ms per request); PostgreSQL {cpu_db / wall:.2f} cores; the "
        f"{args.clients} client threads {cpu_clients / wall:.2f} cores; everything else "
        f"{(cpu_all - cpu_app - cpu_db - cpu_clients) / wall:.2f} cores",
    ]
    print("\n".join([*table, "", *lines]))
    for kind, errs in results.errors.items():
        if errs:
            print(f"  {kind} errors, first ones: {errs[:5]}")
    if args.write:
        section_write(
            "load-test",
            "\n".join(
                [
                    "## Load: 50 shifters on gunicorn + PostgreSQL",
                    "",
                    f"- Date: {time.strftime('%Y-%m-%d')}; machine: {machine_line} (shared with other engineers' jobs)",
                    f"- Command: `{command}`",
                    "- Server: gunicorn " + f"{args.worker_class}, {args.workers} workers"
                    f"{f', {args.threads} threads each' if args.worker_class == 'gthread' else ''}, PostgreSQL 15 on the "
                    f"same machine; simulate --seed 1 --runs {args.runs} --lumisections-for-last 300, model from "
                    "`train`, recommendations of the 300 newest runs stored by the refresh",
                    f"- Each client: log in (CSRF), then GET runs page → GET run page (80% among the 300 newest "
                    f"runs) → 50%: POST /api/feedback/ (session + CSRF header); think time uniform 0 to "
                    f"{2 * args.think:g} s",
                    *lines,
                    "",
                    *table,
                ]
            ),
        )
    if written != results.feedback_2xx:
        raise SystemExit(f"feedback rows written ({written}) != feedback posts answered 2xx ({results.feedback_2xx})")


if __name__ == "__main__":
    main()
