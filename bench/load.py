"""Load generators, all against 127.0.0.1 and bounded in count and time: registration bursts (threads,
one `requests` session per delegate), concurrent downloads (threads, `http.client` reading into one
buffer, so the client spends little CPU), a slow download watched from /proc, and plain smtplib."""

import http.client
import re
import smtplib
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from .servers import rss_kib

CSRF_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TIMEOUT = 120  # seconds for any one request: a stuck server fails the round, it does not hang the run


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Burst:
    posts: int
    seconds: float
    latencies: list[float]
    statuses: Counter
    errors: int
    form_seconds: float  # the GETs of the form before the burst (not in the throughput)
    error_samples: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.posts / self.seconds

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 0.95)


def client_address(number: int) -> str:
    """A distinct client address per delegate, for X-Forwarded-For (as nginx sets it in production):
    addresses of the documentation ranges (RFC 5737), never contacted: only the header carries them."""
    block = ("192.0.2", "198.51.100", "203.0.113")[number // 250 % 3]
    return f"{block}.{number % 250 + 1}"


def registration_burst(base_url, form_path, delegates, *, concurrency, success) -> Burst:
    """Each delegate (a dict of form fields) is one browser: its own session opens the form (for the
    CSRF token and the session cookie), then, all forms being open, `concurrency` clients post the
    registrations as fast as the server answers. `success(response)` tells a registration that went
    through. Latency and throughput are those of the posts."""

    def open_form(number):
        session = requests.Session()
        session.headers["X-Forwarded-For"] = client_address(number)
        response = session.get(base_url + form_path, timeout=TIMEOUT)
        match = CSRF_TOKEN.search(response.text)
        if response.status_code != 200 or match is None:
            raise RuntimeError(f"the form did not open: {response.status_code} {response.text[:200]!r}")
        return session, match.group(1)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        forms = list(pool.map(open_form, range(len(delegates))))
    form_seconds = time.perf_counter() - started

    latencies, statuses, samples = [None] * len(delegates), Counter(), []
    failures = []

    def post(number):
        session, token = forms[number]
        fields = {**delegates[number], "csrf_token": token}
        began = time.perf_counter()
        try:
            response = session.post(
                base_url + form_path,
                data=fields,
                # As a browser sends the form: multipart, with the file input left empty.
                files={"credentials": ("", b"", "application/octet-stream")},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
        except requests.RequestException as error:
            failures.append(number)
            statuses[type(error).__name__] += 1
            samples.append(repr(error)[:200])
            return
        latencies[number] = time.perf_counter() - began
        statuses[response.status_code] += 1
        if not success(response):
            failures.append(number)
            if len(samples) < 3:
                samples.append(f"{response.status_code} {response.headers.get('Location', '')} {response.text[:200]!r}")

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, range(len(delegates))))
    seconds = time.perf_counter() - started
    for session, _token in forms:
        session.close()
    return Burst(
        posts=len(delegates),
        seconds=seconds,
        latencies=[latency for latency in latencies if latency is not None],
        statuses=statuses,
        errors=len(failures),
        form_seconds=form_seconds,
        error_samples=samples,
    )


@dataclass
class Downloads:
    files: int
    bytes: int
    seconds: float
    errors: int

    @property
    def throughput(self) -> float:
        """MB/s (10^6 bytes)."""
        return self.bytes / self.seconds / 1e6


def _download(port, path, expected_size, buffer, rate=None) -> int:
    """One GET of `path`; returns the bytes received (raises on a wrong status or size). With `rate`
    (bytes/s) the client reads no faster than that: a slow delegate on a bad connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {response.read(200)!r}")
        received, began = 0, time.perf_counter()
        view = memoryview(buffer)
        while True:
            count = response.readinto(view)
            if not count:
                break
            received += count
            if rate:
                ahead = received / rate - (time.perf_counter() - began)
                if ahead > 0:
                    time.sleep(ahead)
        if received != expected_size:
            raise RuntimeError(f"GET {path}: {received} bytes instead of {expected_size}")
        return received
    finally:
        connection.close()


def concurrent_downloads(port, path, expected_size, *, clients, per_client) -> Downloads:
    """`clients` threads start together and each downloads the file `per_client` times."""
    barrier = threading.Barrier(clients + 1)
    totals, errors = [0] * clients, [0]

    def client(number):
        buffer = bytearray(1024 * 1024)
        barrier.wait()
        for _ in range(per_client):
            try:
                totals[number] += _download(port, path, expected_size, buffer)
            except (OSError, RuntimeError, http.client.HTTPException):
                errors[0] += 1

    threads = [threading.Thread(target=client, args=(number,)) for number in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return Downloads(files=clients * per_client - errors[0], bytes=sum(totals), seconds=seconds, errors=errors[0])


def memory_during_download(port, path, expected_size, worker_pids, *, rate) -> dict:
    """Download `path` once at `rate` bytes/s while sampling the VmRSS of every worker; returns the
    growth (KiB) of the worker that grew most, from its RSS just before the request."""
    before = {pid: rss_kib(pid) for pid in worker_pids}
    peak = dict(before)
    done = threading.Event()
    failure = []

    def download():
        try:
            _download(port, path, expected_size, bytearray(1024 * 1024), rate=rate)
        except Exception as error:  # reported, and the figure is then not met
            failure.append(repr(error))
        finally:
            done.set()

    thread = threading.Thread(target=download)
    began = time.perf_counter()
    thread.start()
    samples = 0
    while not done.wait(0.01):
        for pid in worker_pids:
            value = rss_kib(pid)
            if value is not None and before[pid] is not None:
                peak[pid] = max(peak[pid], value)
        samples += 1
    thread.join()
    growth = {pid: peak[pid] - before[pid] for pid in worker_pids if before[pid] is not None}
    worst = max(growth, key=growth.get)
    return {
        "growth_kib": growth[worst],
        "rss_before_kib": before[worst],
        "samples": samples,
        "seconds": time.perf_counter() - began,
        "error": failure[0] if failure else None,
    }


def smtplib_round(port, messages) -> float:
    """Send prepared messages ((sender, recipients, bytes)) over one SMTP connection; seconds taken."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=TIMEOUT) as smtp:
        for sender, recipients, data in messages:
            smtp.sendmail(sender, recipients, data)
    return time.perf_counter() - started


def median(values):
    return statistics.median(values) if values else float("nan")
