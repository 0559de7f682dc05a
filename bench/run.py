"""`make bench` (`python -m bench.run`): the product against the best the same machine can do.

The run creates a PostgreSQL database (`meeting_bench`), migrates it with `flask db upgrade`, seeds it,
starts the servers itself — the product under gunicorn, the bare Flask app of bench/bare_app.py under
the same settings, nginx, a local SMTP sink — measures every figure in rounds, each product round
beside its ceiling's round, prints one table and writes bench/RESULTS.md (BENCH_QUICK=1: a reduced
run, written to bench/RESULTS-quick.md). It stops what it started and drops its databases.

Environment, all optional:
- BENCH_QUICK=1: the reduced run (under three minutes);
- BENCH_DATABASE_URL: default postgresql+psycopg://postgres@127.0.0.1:5432/meeting_bench;
- BENCH_WORKER_CLASS, BENCH_WORKERS, BENCH_THREADS: the gunicorn settings (default 2 gthread workers of
  4 threads);
- BENCH_ONLY=registration,downloads,memory,pdf,invitations,page_cost: some figures only, while working
  on one (the table is printed, no results file is written);
- BENCH_PROFILE=registration,downloads,invitations,delivery,pdf: py-spy profiles of those product
  phases in bench/profiles/, as BENCH_PROFILE_FORMAT says (flamegraph, speedscope or raw);
- BENCH_KEEP=1: keep the database and the work folder, for a look afterwards."""

import json
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from . import bare_app, load, seed, servers
from .servers import BENCH, ROOT, VENV_BIN

QUICK = os.environ.get("BENCH_QUICK") == "1"
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/meeting_bench")
PAGES_DATABASE_URL = DATABASE_URL + "_pages"
SETTINGS = {
    "worker_class": os.environ.get("BENCH_WORKER_CLASS", "gthread"),
    "workers": int(os.environ.get("BENCH_WORKERS", "2")),
    "threads": int(os.environ.get("BENCH_THREADS", "4")),
    # The list of participants of a large meeting takes seconds to typeset; 30 s (gunicorn's default)
    # leaves too little room on a busy machine.
    "timeout": 120,
}
PROFILE = {name for name in os.environ.get("BENCH_PROFILE", "").split(",") if name}
FIGURES = ("registration", "downloads", "memory", "pdf", "invitations", "page_cost")
ONLY = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name} or set(FIGURES)
PROFILES = BENCH / "profiles"
# flamegraph (an SVG), speedscope (JSON for speedscope.app) or raw (collapsed stacks, text).
PROFILE_FORMAT = os.environ.get("BENCH_PROFILE_FORMAT", "flamegraph")
PROFILE_SUFFIX = {"flamegraph": ".svg", "speedscope": ".json", "raw": ".txt"}[PROFILE_FORMAT]

ROUNDS = 1 if QUICK else 5
DOWNLOAD_ROUNDS = 3 if QUICK else 5  # short rounds: the quick run can afford a few
INVITATION_ROUNDS = 1 if QUICK else 3  # each queues and delivers 5,000 emails twice (product, smtplib)
DELEGATES = 500
CONCURRENCY = 50
CAPACITY = 400  # of the 500 delegates: 400 confirmed, 100 on the waiting list
STUDY_MB = 20
LARGE_MB = 200
# Rounds of about 2 s in the full run: with 4 downloads a client (about 1 s) the ratio of one run to the
# next varied by ±0.1.
DOWNLOADS_PER_CLIENT = 1 if QUICK else 8
SLOW_CLIENT_RATE = 100e6  # bytes/s of the client reading the 200 MB file
INVITATIONS = 5000
PARTICIPANTS = 2000

TARGETS = {
    "burst": 0.5,
    "direct": 0.6,
    "x_accel": 0.9,
    "memory_mb": 20,
    "queue_seconds": 5.0,
    "delivery": 0.5,
}


# The machine ------------------------------------------------------------------------------------


def _first_line(argv) -> str:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return (result.stdout or result.stderr).strip().splitlines()[0] if (result.stdout or result.stderr) else ""


def describe_machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown",
    )
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores (nproc)": str(os.cpu_count()),
        "memory": f"{memory_kib / 1024 / 1024:.1f} GiB",
        "CPU": cpu,
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "PostgreSQL": seed.server_version(DATABASE_URL).split(" on ")[0],
        "nginx": _first_line([nginx_binary() or "nginx", "-v"]).replace("nginx version: ", ""),
        "gunicorn": _first_line([str(VENV_BIN / "gunicorn"), "--version"]),
        # The machine may be shared (other work running beside the benchmark): its load says how much.
        "load average at the start (1, 5, 15 min)": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }


def nginx_binary() -> str | None:
    return next((path for path in ("/usr/sbin/nginx", "/usr/bin/nginx") if Path(path).exists()), None)


def ensure_nginx() -> str | None:
    """nginx from Debian's packages, installed when missing (as root); None if it cannot be had."""
    if nginx_binary():
        return None
    if os.geteuid() != 0:
        return "nginx is not installed and the run is not root: install it with `apt-get install nginx-light`"
    print("Installing nginx (apt-get install nginx-light)…", flush=True)
    quiet = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    }
    if subprocess.run(["apt-get", "install", "-y", "nginx-light"], **quiet).returncode != 0:
        subprocess.run(["apt-get", "update"], **quiet)
        subprocess.run(["apt-get", "install", "-y", "nginx-light"], **quiet)
    return None if nginx_binary() else "nginx could not be installed with apt-get"


# Profiling --------------------------------------------------------------------------------------


@contextmanager
def profiled(figure, pid):
    """With BENCH_PROFILE naming `figure`: a py-spy profile of the server `pid` and its workers while the
    block runs (waiting included), in bench/profiles/<figure>.svg (or .json, .txt); a figure of several
    rounds leaves the profile of its last round."""
    if figure not in PROFILE:
        yield
        return
    PROFILES.mkdir(exist_ok=True)
    output = PROFILES / f"{figure}{PROFILE_SUFFIX}"
    spy = subprocess.Popen(
        [
            *(str(VENV_BIN / "py-spy"), "record", "--pid", str(pid), "--subprocesses", "--idle"),
            *("--format", PROFILE_FORMAT, "--output", str(output)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # py-spy attaches to every worker
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
        print(f"  profile: {output.relative_to(ROOT)}", flush=True)


# Figures ----------------------------------------------------------------------------------------


def delegates(state_ids) -> list[dict]:
    """500 distinct delegates of the Member States, as they fill in the form."""
    languages = ("en", "fr", "es")
    return [
        {
            "organization": str(state_ids[number % len(state_ids)]),
            "role": "delegate" if number % 4 else "head_of_delegation",
            "salutation": ("ms", "mr", "he_ms", "he_mr")[number % 4],
            "given_name": f"Delegate{number:03d}",
            "family_name": f"Burst {number:03d}",
            "function": "Counsellor, Permanent Mission",
            "email": f"delegate{number:03d}@mission{number % len(state_ids)}.example.org",
            "phone": "",
            "preferred_language": languages[number % 3],
            "attendance": "in_person",
            "consent_public_list": "y",
            "accessibility_needs": "",
        }
        for number in range(DELEGATES)
    ]


def registration_figure(ctx) -> dict:
    print(f"Registration burst: {DELEGATES} delegates, {CONCURRENCY} concurrent clients, {ROUNDS} rounds", flush=True)
    people = delegates(ctx["directory"]["member_states"])
    product_url, bare_url = ctx["product"].url(""), ctx["bare"].url("")
    form_path = f"/meetings/{ctx['burst_slug']}/register"
    rounds, problems = [], []

    def registered(response):
        return response.status_code in (302, 303) and "/r/" in response.headers.get("Location", "")

    for number in range(ROUNDS):
        seed.reset_registrations(ctx["app"], ctx["burst_meeting_id"])
        bare_app.create_table(DATABASE_URL)
        order = ("product", "bare") if number % 2 == 0 else ("bare", "product")
        result = {}
        for side in order:
            if side == "product":
                with profiled("registration", ctx["product"].pid):
                    result[side] = load.registration_burst(
                        product_url, form_path, people, concurrency=CONCURRENCY, success=registered
                    )
                counts = seed.registration_counts(ctx["app"], ctx["burst_meeting_id"])
                result["counts"] = counts
                expected = {"confirmed": CAPACITY, "waitlisted": DELEGATES - CAPACITY, "emails": DELEGATES}
                if any(counts.get(key, 0) != value for key, value in expected.items()):
                    problems.append(f"round {number + 1}: {counts} instead of {expected}")
            else:
                result[side] = load.registration_burst(
                    bare_url, "/register", people, concurrency=CONCURRENCY, success=registered
                )
        for side in ("product", "bare"):
            burst = result[side]
            if burst.errors:
                problems.append(
                    f"round {number + 1} {side}: {burst.errors} errors {dict(burst.statuses)} {burst.error_samples}"
                )
        product, bare = result["product"], result["bare"]
        rounds.append(result)
        print(
            f"  round {number + 1}: product {product.throughput:.0f}/s (p50 {product.p50 * 1000:.0f} ms, "
            f"p95 {product.p95 * 1000:.0f} ms, {product.errors} errors, {result['counts']}); "
            f"bare {bare.throughput:.0f}/s (p50 {bare.p50 * 1000:.0f} ms, p95 {bare.p95 * 1000:.0f} ms); "
            f"ratio {product.throughput / bare.throughput:.2f}",
            flush=True,
        )
    return {
        "product_throughput": load.median([r["product"].throughput for r in rounds]),
        "product_p50": load.median([r["product"].p50 for r in rounds]),
        "product_p95": load.median([r["product"].p95 for r in rounds]),
        "bare_throughput": load.median([r["bare"].throughput for r in rounds]),
        "bare_p50": load.median([r["bare"].p50 for r in rounds]),
        "bare_p95": load.median([r["bare"].p95 for r in rounds]),
        "ratio": load.median([r["product"].throughput / r["bare"].throughput for r in rounds]),
        "errors": sum(r["product"].errors for r in rounds),
        "bare_errors": sum(r["bare"].errors for r in rounds),
        "form_seconds": load.median([r["product"].form_seconds for r in rounds]),
        "bare_form_seconds": load.median([r["bare"].form_seconds for r in rounds]),
        "counts": [r["counts"] for r in rounds],
        "problems": problems,
        "rounds": [
            {side: round(r[side].throughput, 1) for side in ("product", "bare")} | {"counts": r["counts"]}
            for r in rounds
        ],
    }


def downloads_figure(ctx) -> dict:
    study = ctx["studies"]["study"]
    print(
        f"Study download: {CONCURRENCY} concurrent clients × {DOWNLOADS_PER_CLIENT} downloads of {STUDY_MB} MB, "
        f"{DOWNLOAD_ROUNDS} rounds",
        flush=True,
    )
    sides = {
        "nginx": (ctx["nginx_static_port"], f"/files/{study['key']}", None),
        "direct": (ctx["product"].port, study["path"], ctx["product"].pid),
        "x_accel": (ctx["nginx_proxy_port"], study["path"], ctx["product_accel"].pid),
    }
    rounds = []
    for number in range(DOWNLOAD_ROUNDS):
        names = list(sides)
        names = names[number % 3 :] + names[: number % 3]  # each side starts a round in turn
        result = {}
        for name in names:
            port, path, pid = sides[name]
            with profiled("downloads", pid) if name == "direct" else nullcontext():
                result[name] = load.concurrent_downloads(
                    port, path, study["size"], clients=CONCURRENCY, per_client=DOWNLOADS_PER_CLIENT
                )
        rounds.append(result)
        print(
            "  round {}: nginx {:.0f} MB/s, app direct {:.0f} MB/s ({:.2f}), behind nginx with X-Accel-Redirect "
            "{:.0f} MB/s ({:.2f}); errors {}".format(
                number + 1,
                result["nginx"].throughput,
                result["direct"].throughput,
                result["direct"].throughput / result["nginx"].throughput,
                result["x_accel"].throughput,
                result["x_accel"].throughput / result["nginx"].throughput,
                {name: r.errors for name, r in result.items()},
            ),
            flush=True,
        )
    return {name: load.median([r[name].throughput for r in rounds]) for name in sides} | {
        "direct_ratio": load.median([r["direct"].throughput / r["nginx"].throughput for r in rounds]),
        "x_accel_ratio": load.median([r["x_accel"].throughput / r["nginx"].throughput for r in rounds]),
        "errors": {name: sum(r[name].errors for r in rounds) for name in sides},
        "rounds": [{name: round(r[name].throughput) for name in sides} for r in rounds],
    }


def memory_figure(ctx) -> dict:
    large = ctx["studies"]["large"]
    server = ctx["product"]
    print(f"Download memory: the workers' VmRSS while one client downloads {LARGE_MB} MB", flush=True)
    # Warm the workers up first (imports, pools, caches), as a server that has served for a while.
    study = ctx["studies"]["study"]
    load.concurrent_downloads(server.port, study["path"], study["size"], clients=8, per_client=2)
    samples = []
    for number in range(ROUNDS):
        sample = load.memory_during_download(
            server.port, large["path"], large["size"], server.children(), rate=SLOW_CLIENT_RATE
        )
        samples.append(sample)
        error = f" {sample['error']}" if sample["error"] else ""
        print(
            f"  round {number + 1}: +{sample['growth_kib'] / 1024:.1f} MB over "
            f"{sample['rss_before_kib'] / 1024:.0f} MB ({sample['samples']} samples in "
            f"{sample['seconds']:.1f} s){error}",
            flush=True,
        )
    worst = max(samples, key=lambda sample: sample["growth_kib"])
    return {
        "growth_mb": worst["growth_kib"] / 1024,
        "rss_before_mb": worst["rss_before_kib"] / 1024,
        "errors": [sample["error"] for sample in samples if sample["error"]],
        "rounds": [round(sample["growth_kib"] / 1024, 1) for sample in samples],
    }


def organizer_session(base_url) -> requests.Session:
    session = requests.Session()
    session.headers["X-Forwarded-For"] = "192.0.2.254"
    page = session.get(base_url + "/login", timeout=load.TIMEOUT)
    token = load.CSRF_TOKEN.search(page.text).group(1)
    response = session.post(
        base_url + "/login",
        data={"email": seed.ORGANIZER_EMAIL, "password": seed.ORGANIZER_PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=load.TIMEOUT,
    )
    if response.status_code != 302:
        raise RuntimeError(f"the organizer could not sign in: {response.status_code}")
    return session


def pdf_figure(ctx) -> dict:
    print(f"List of participants: the PDF of {PARTICIPANTS} participants, {ROUNDS} rounds", flush=True)
    session = organizer_session(ctx["product"].url(""))
    url = ctx["product"].url(f"/manage/meetings/{ctx['list_slug']}/registrations/participants.pdf?lang=en")
    times, sizes, errors = [], [], []
    for number in range(ROUNDS):
        with profiled("pdf", ctx["product"].pid):
            began = time.perf_counter()
            response = session.get(url, timeout=load.TIMEOUT)
            seconds = time.perf_counter() - began
        if response.status_code != 200 or not response.content.startswith(b"%PDF"):
            errors.append(f"{response.status_code} {response.headers.get('Content-Type')}")
            continue
        times.append(seconds)
        sizes.append(len(response.content))
        print(f"  round {number + 1}: {seconds:.2f} s, {len(response.content) / 1e6:.1f} MB", flush=True)
    session.close()
    return {"seconds": load.median(times), "bytes": sizes[0] if sizes else 0, "errors": errors, "rounds": times}


def prepared_messages(app, slug) -> list[tuple[str, list[str], bytes]]:
    """The round's emails as they will go out, fully built (MIME, headers, encoding) before the
    clock starts, by the product's own builder: what plain smtplib sends, over one connection."""
    from sqlalchemy import text

    from meeting.extensions import db
    from meeting.mail.message import message_builder

    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT o.recipients, o.recipient_name, o.subject, o.body_text, o.body_html, o.language, o.message_id "
                "FROM outbox_messages o JOIN meetings m ON m.id = o.meeting_id WHERE m.slug = :slug ORDER BY o.id"
            ),
            {"slug": slug},
        ).all()
        builder = message_builder(app.config["MAIL_DEFAULT_SENDER"])
        return [(builder.envelope_from, builder.recipients(row), builder.build(row)) for row in rows]


@dataclass
class SinkReport:
    """What the SMTP sink saw of one delivery: the messages it accepted, and the seconds from the first
    to the last (see bench/smtp_sink.py)."""

    received: int
    span: float
    command_seconds: float  # the whole command or loop, start-up and connection included

    @property
    def rate(self) -> float:
        return (self.received - 1) / self.span if self.received > 1 and self.span > 0 else float("nan")


def _sink_report(count_file, command_seconds) -> SinkReport:
    messages, _recipients, first, last = Path(count_file).read_text().split()
    return SinkReport(int(messages), float(last) - float(first), command_seconds)


def deliver_with_worker(ctx, name, problems) -> SinkReport:
    """`flask outbox deliver` to a fresh SMTP sink."""
    port = servers.free_port()
    count_file = ctx["work"] / f"sink-{name}.txt"
    env = {**os.environ, **ctx["env"], "MEETING_MAIL_SERVER": "127.0.0.1", "MEETING_MAIL_PORT": str(port)}
    argv = [str(VENV_BIN / "flask"), "--app", "app", "outbox", "deliver"]
    if "delivery" in PROFILE:
        PROFILES.mkdir(exist_ok=True)
        output = PROFILES / f"delivery{PROFILE_SUFFIX}"
        argv = [str(VENV_BIN / "py-spy"), "record", "--format", PROFILE_FORMAT, "--output", str(output), "--", *argv]
    with servers.smtp_sink(port=port, log_dir=ctx["work"], count_file=count_file):
        began = time.perf_counter()
        finished = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - began
    if finished.returncode != 0:
        problems.append(f"{name}: flask outbox deliver failed: {finished.stderr[-500:]}")
    return _sink_report(count_file, seconds)


def deliver_with_smtplib(ctx, name, messages) -> SinkReport:
    """The ceiling: plain smtplib sends the prepared messages over one connection to a fresh sink."""
    port = servers.free_port()
    count_file = ctx["work"] / f"sink-{name}.txt"
    with servers.smtp_sink(port=port, log_dir=ctx["work"], count_file=count_file):
        seconds = load.smtplib_round(port, messages)
    return _sink_report(count_file, seconds)


def invitations_figure(ctx) -> dict:
    print(
        f"Invitation round: {INVITATIONS} invitations in one API request, then delivery; {INVITATION_ROUNDS} rounds",
        flush=True,
    )
    seed.seed_invitation_directory(ctx["app"], INVITATIONS)
    headers = {"Authorization": f"Bearer {ctx['api_token']}", "X-Forwarded-For": "192.0.2.253"}
    rounds, problems = [], []
    for number in range(INVITATION_ROUNDS):
        slug = seed.invitation_meeting(ctx["app"], number + 1)
        seed.clear_outbox(ctx["app"], slug)
        url = ctx["product"].url(f"/api/v1/meetings/{slug}/invitations")
        with profiled("invitations", ctx["product"].pid):
            began = time.perf_counter()
            response = requests.post(url, json={"kind": "ngo"}, headers=headers, timeout=load.TIMEOUT)
            queue_seconds = time.perf_counter() - began
        created = response.json().get("created") if response.status_code == 201 else None
        if created != INVITATIONS:
            problems.append(f"round {number + 1}: {response.status_code} {response.text[:300]!r}")
            continue
        messages = prepared_messages(ctx["app"], slug)

        if number % 2 == 0:
            worker = deliver_with_worker(ctx, f"{number}-worker", problems)
            plain = deliver_with_smtplib(ctx, f"{number}-smtplib", messages)
        else:
            plain = deliver_with_smtplib(ctx, f"{number}-smtplib", messages)
            worker = deliver_with_worker(ctx, f"{number}-worker", problems)
        outbox = seed.outbox_counts(ctx["app"], slug)
        if outbox.get("sent") != INVITATIONS or worker.received != INVITATIONS or plain.received != INVITATIONS:
            problems.append(
                f"round {number + 1}: outbox {outbox}, the sink received {worker.received} from the worker and "
                f"{plain.received} from smtplib"
            )
        rounds.append(
            {
                "queue_seconds": queue_seconds,
                "deliver_rate": worker.rate,
                "plain_rate": plain.rate,
                "ratio": worker.rate / plain.rate,
                "deliver_command_seconds": worker.command_seconds,
                "plain_command_seconds": plain.command_seconds,
            }
        )
        print(
            f"  round {number + 1}: queued in {queue_seconds:.2f} s; delivered {worker.rate:.0f}/s "
            f"(flask outbox deliver took {worker.command_seconds:.2f} s in all, start-up included), "
            f"smtplib {plain.rate:.0f}/s ({plain.command_seconds:.2f} s); ratio {worker.rate / plain.rate:.2f}",
            flush=True,
        )
    return {
        "queue_seconds": load.median([r["queue_seconds"] for r in rounds]),
        "queue_worst": max((r["queue_seconds"] for r in rounds), default=float("nan")),
        "deliver_rate": load.median([r["deliver_rate"] for r in rounds]),
        "plain_rate": load.median([r["plain_rate"] for r in rounds]),
        "ratio": load.median([r["ratio"] for r in rounds]),
        "deliver_command_seconds": load.median([r["deliver_command_seconds"] for r in rounds]),
        "problems": problems,
        "rounds": [{key: round(value, 2) for key, value in r.items()} for r in rounds],
    }


def page_cost_figure(ctx) -> dict:
    """tests/test_page_cost.py on PostgreSQL, which writes the counts it asserts on."""
    print("Page cost: SQL queries per page with 10 and with 10,000 registrations (tests/test_page_cost.py)", flush=True)
    report = ctx["work"] / "page_cost.json"
    seed.create_database(PAGES_DATABASE_URL)
    try:
        finished = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/test_page_cost.py",
                "-k",
                "postgresql",
            ],
            cwd=ROOT,
            env={**os.environ, "TEST_DATABASE_URL": PAGES_DATABASE_URL, "PAGE_COST_REPORT": str(report)},
            capture_output=True,
            text=True,
        )
    finally:
        seed.drop_database(PAGES_DATABASE_URL)
    counts = json.loads(report.read_text()) if report.exists() else {}
    for page, (small, large) in counts.items():
        print(f"  {page}: {small} queries with 10 registrations, {large} with 10,000", flush=True)
    summary = finished.stdout.strip().splitlines()[-1] if finished.stdout.strip() else finished.stderr[-300:]
    return {"counts": counts, "passed": finished.returncode == 0, "pytest": summary}


# The table --------------------------------------------------------------------------------------


def _met(condition) -> str:
    return "met" if condition else "**MISSED**"


def table_rows(results) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, product, ceiling, ratio or value, target, met?)"""
    rows = []
    burst = results.get("registration")
    if burst:
        rows.append(
            (
                "Registration burst (500 posts, 50 clients)",
                f"{burst['product_throughput']:.0f}/s, p50 {burst['product_p50'] * 1000:.0f} ms, "
                f"p95 {burst['product_p95'] * 1000:.0f} ms, {burst['errors']} errors",
                f"bare Flask {burst['bare_throughput']:.0f}/s, p50 {burst['bare_p50'] * 1000:.0f} ms, "
                f"p95 {burst['bare_p95'] * 1000:.0f} ms",
                f"{burst['ratio']:.2f}",
                f"≥ {TARGETS['burst']}; 0 errors; {CAPACITY} confirmed + {DELEGATES - CAPACITY} waitlisted",
                _met(burst["ratio"] >= TARGETS["burst"] and burst["errors"] == 0 and not burst["problems"]),
            )
        )
    downloads = results.get("downloads")
    if downloads:
        errors = sum(downloads["errors"].values())
        rows.append(
            (
                f"Study download, app direct ({STUDY_MB} MB, 50 clients)",
                f"{downloads['direct']:.0f} MB/s",
                f"nginx from disk {downloads['nginx']:.0f} MB/s",
                f"{downloads['direct_ratio']:.2f}",
                f"≥ {TARGETS['direct']}",
                _met(downloads["direct_ratio"] >= TARGETS["direct"] and errors == 0),
            )
        )
        rows.append(
            (
                "Study download, behind nginx (X-Accel-Redirect)",
                f"{downloads['x_accel']:.0f} MB/s",
                f"nginx from disk {downloads['nginx']:.0f} MB/s",
                f"{downloads['x_accel_ratio']:.2f}",
                f"≥ {TARGETS['x_accel']}",
                _met(downloads["x_accel_ratio"] >= TARGETS["x_accel"] and errors == 0),
            )
        )
    memory = results.get("memory")
    if memory:
        rows.append(
            (
                f"Download memory ({LARGE_MB} MB file)",
                f"worker RSS +{memory['growth_mb']:.1f} MB (from {memory['rss_before_mb']:.0f} MB)",
                "",
                f"+{memory['growth_mb']:.1f} MB",
                f"< {TARGETS['memory_mb']} MB",
                _met(memory["growth_mb"] < TARGETS["memory_mb"] and not memory["errors"]),
            )
        )
    invitations = results.get("invitations")
    if invitations:
        rows.append(
            (
                f"Invitation round: queueing {INVITATIONS:,} (one API request)",
                f"{invitations['queue_seconds']:.2f} s (worst {invitations['queue_worst']:.2f} s)",
                "",
                f"{invitations['queue_seconds']:.2f} s",
                f"< {TARGETS['queue_seconds']:.0f} s",
                _met(invitations["queue_worst"] < TARGETS["queue_seconds"] and not invitations["problems"]),
            )
        )
        rows.append(
            (
                "Invitation round: delivery to a local SMTP server",
                f"flask outbox deliver {invitations['deliver_rate']:.0f} emails/s "
                f"({invitations['deliver_command_seconds']:.1f} s for the command, start-up included)",
                f"smtplib, one connection {invitations['plain_rate']:.0f} emails/s",
                f"{invitations['ratio']:.2f}",
                f"≥ {TARGETS['delivery']}",
                _met(invitations["ratio"] >= TARGETS["delivery"] and not invitations["problems"]),
            )
        )
    pages = results.get("page_cost")
    if pages:
        counts = ", ".join(f"{page} {small}→{large}" for page, (small, large) in pages["counts"].items())
        equal = bool(pages["counts"]) and all(small == large for small, large in pages["counts"].values())
        rows.append(
            (
                "Page cost (SQL queries, 10 → 10,000 registrations)",
                counts or pages["pytest"],
                "",
                "equal" if equal else "grows",
                "equal counts (a test asserts it)",
                _met(equal and pages["passed"]),
            )
        )
    pdf = results.get("pdf")
    if pdf:
        rows.append(
            (
                f"List of participants, PDF of {PARTICIPANTS:,}",
                f"{pdf['seconds']:.2f} s ({pdf['bytes'] / 1e6:.1f} MB)" if pdf["rounds"] else "failed",
                "",
                f"{pdf['seconds']:.2f} s",
                "reported",
                "reported" if not pdf["errors"] else "**FAILED**",
            )
        )
    for name, reason in results.get("skipped", {}).items():
        rows.append((name, f"not measured: {reason}", "", "", "", "**MISSED**"))
    return rows


def render_table(rows) -> str:
    header = ("Figure", "Product", "Ceiling (same run)", "Ratio / value", "Target", "Met")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(path, machine, results, table, schema, elapsed) -> None:
    settings = (
        f"{SETTINGS['workers']} {SETTINGS['worker_class']} workers"
        + (f" × {SETTINGS['threads']} threads" if SETTINGS["worker_class"] == "gthread" else "")
        + f", timeout {SETTINGS['timeout']} s"
    )
    lines = [
        "# Benchmark results" + (" (quick run: BENCH_QUICK=1)" if QUICK else ""),
        "",
        f"Written by `{'BENCH_QUICK=1 ' if QUICK else ''}make bench` on {machine['date']}, "
        f"in {elapsed / 60:.1f} minutes. "
        "Every figure is the median of its rounds; each ratio is taken round by round between the product "
        "and its ceiling measured one after the other in the same round (they take turns at going first), "
        "then the median of those ratios is shown. See bench/README.md for what each figure measures.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in machine.items()),
        f"| server under test | gunicorn, {settings}, on PostgreSQL (database `{DATABASE_URL.rsplit('/', 1)[1]}`) |",
        f"| schema | {schema} |",
        f"| rounds | {ROUNDS} per figure; {DOWNLOAD_ROUNDS} for the downloads, {INVITATION_ROUNDS} for the invitation "
        "round |",
        f"| load average at the end | {' '.join(Path('/proc/loadavg').read_text().split()[:3])} |",
        "",
        "## Figures",
        "",
        table,
        "",
        "## Rounds",
        "",
        "```json",
        json.dumps(
            {name: value.get("rounds") for name, value in results.items() if isinstance(value, dict) and value},
            indent=1,
        ),
        "```",
    ]
    problems = []
    for name, value in results.items():
        if not isinstance(value, dict):
            continue
        errors = value.get("errors") or []
        if isinstance(errors, dict):  # errors per side: {"nginx": 0, "direct": 2, ...}
            errors = [f"{count} errors ({side})" for side, count in errors.items() if count]
        elif not isinstance(errors, list):  # a count
            errors = [f"{errors} errors"]
        problems += [f"- {name}: {problem}" for problem in [*value.get("problems", []), *errors] if problem]
    if problems:
        lines += ["", "## Problems seen", "", *problems]
    path.write_text("\n".join(lines) + "\n")


# The run ----------------------------------------------------------------------------------------


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="meeting-bench-"))
    work.chmod(0o755)  # nginx reads the studies in it
    storage = work / "storage"
    storage.mkdir()
    results, running = {"skipped": {}}, []
    print(f"Benchmark{' (quick)' if QUICK else ''}: work folder {work}, logs there", flush=True)
    nginx_problem = ensure_nginx()
    machine = describe_machine()
    try:
        seed.create_database(DATABASE_URL)
        env = {
            "MEETING_SECRET_KEY": secrets.token_hex(32),
            "MEETING_SQLALCHEMY_DATABASE_URI": DATABASE_URL,
            "MEETING_STORAGE_DIR": str(storage),
            # Clients are told apart by X-Forwarded-For, as behind the production proxy (see load.py).
            "MEETING_PROXY_FIX_X_FOR": "1",
        }
        print("Migrating and seeding the database…", flush=True)
        schema = seed.migrate(env, DATABASE_URL)
        app = seed.bench_app(DATABASE_URL, storage)
        ctx = {"app": app, "env": env, "work": work, "api_token": seed.create_organizer(env)}
        ctx["directory"] = seed.seed_directory(app)
        ctx["burst_slug"] = "bench-registration"
        ctx["burst_meeting_id"] = seed.seed_burst_meeting(app, ctx["burst_slug"], CAPACITY)
        ctx["studies"] = seed.seed_studies(app, storage, {"study": STUDY_MB * 10**6, "large": LARGE_MB * 10**6})
        ctx["list_slug"] = "bench-list"
        seed.seed_participants(
            app, ctx["list_slug"], PARTICIPANTS, ctx["directory"]["member_states"] + ctx["directory"]["igos"]
        )
        bare_app.create_table(DATABASE_URL)

        ports = {name: servers.free_port() for name in ("product", "accel", "bare", "static", "proxy")}
        env["MEETING_BASE_URL"] = f"http://127.0.0.1:{ports['product']}"
        ctx["product"] = servers.gunicorn(
            "product", "app:app", port=ports["product"], log_dir=work, env=env, settings=SETTINGS
        )
        ctx["product_accel"] = servers.gunicorn(
            "product-x-accel",
            "app:app",
            port=ports["accel"],
            log_dir=work,
            env={**env, "MEETING_X_ACCEL_REDIRECT": "/protected/"},
            settings=SETTINGS,
        )
        ctx["bare"] = servers.gunicorn(
            "bare",
            "bench.bare_app:app",
            port=ports["bare"],
            log_dir=work,
            env=env,
            settings=SETTINGS,
            ready="/register",
        )
        for server in (ctx["product"], ctx["product_accel"], ctx["bare"]):
            running.append(server.start())
        if nginx_problem is None:
            running.append(
                servers.nginx(
                    log_dir=work,
                    storage_dir=storage,
                    static_port=ports["static"],
                    proxy_port=ports["proxy"],
                    app_port=ports["accel"],
                ).start()
            )
            ctx["nginx_static_port"], ctx["nginx_proxy_port"] = ports["static"], ports["proxy"]

        if "registration" in ONLY:
            results["registration"] = registration_figure(ctx)
        if "downloads" in ONLY and nginx_problem is None:
            results["downloads"] = downloads_figure(ctx)
        elif "downloads" in ONLY:
            results["skipped"]["Study download"] = nginx_problem
        if "memory" in ONLY:
            results["memory"] = memory_figure(ctx)
        if "pdf" in ONLY:
            results["pdf"] = pdf_figure(ctx)
        if "invitations" in ONLY:
            results["invitations"] = invitations_figure(ctx)
    finally:
        for server in reversed(running):
            server.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(storage, ignore_errors=True)  # 220 MB of studies; the logs stay until the end
            with suppress(Exception):
                seed.drop_database(DATABASE_URL)
    if "page_cost" in ONLY:
        results["page_cost"] = page_cost_figure(ctx)
    elapsed = time.monotonic() - started

    rows = table_rows(results)
    table = render_table(rows)
    print("\n" + table + "\n")
    if ONLY == set(FIGURES):
        output = BENCH / ("RESULTS-quick.md" if QUICK else "RESULTS.md")
        write_results(output, machine, results, table, schema, elapsed)
        print(f"Written to {output.relative_to(ROOT)} ({elapsed / 60:.1f} minutes).")
    if os.environ.get("BENCH_KEEP") == "1":
        print(f"Kept: the database {DATABASE_URL} and {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    missed = [row[0] for row in rows if row[5] not in ("met", "reported")]
    print("Every target is met." if not missed else f"Missed: {'; '.join(missed)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
