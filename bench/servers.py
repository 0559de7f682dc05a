"""The processes a benchmark run starts and stops itself: gunicorn (the product and the bare app),
nginx and the SMTP sink. Each is started in its own session with its output in a log file, waited
for until it answers, and stopped by its own process id (SIGTERM, then SIGKILL after a grace time)."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from string import Template

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Process:
    """A server process of the run. `ready` is a URL path answered once the server serves (None: the
    port accepting connections is enough)."""

    def __init__(self, name, argv, *, port, log_dir, env=None, cwd=ROOT, ready="/"):
        self.name, self.argv, self.port, self.env, self.cwd, self.ready = name, argv, port, env, cwd, ready
        self.log_path = Path(log_dir) / f"{name}.log"
        self.process = None

    def start(self, timeout=30.0):
        log = open(self.log_path, "ab")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={**os.environ, **(self.env or {})},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._log = log
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")
            if _port_open(self.port):
                if self.ready is None:
                    return self
                try:
                    if requests.get(self.url(self.ready), timeout=5).status_code < 500:
                        return self
                except requests.RequestException:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer on port {self.port} within {timeout:.0f} s; see {self.log_path}"
        )

    def url(self, path="/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> list[int]:
        """The process ids of the server's direct children (gunicorn's workers)."""
        try:
            text = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in text.split()]

    def stop(self, grace=15.0):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        finally:
            self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def gunicorn(name, app, *, port, log_dir, env, settings, ready="/"):
    """gunicorn serving `app` ("module:variable") with the run's worker settings."""
    argv = [
        str(VENV_BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(settings["workers"]),
        "--worker-class",
        settings["worker_class"],
        # gunicorn turns a sync worker with threads into a gthread one: threads only for gthread.
        *(("--threads", str(settings["threads"])) if settings["worker_class"] == "gthread" else ()),
        "--timeout",
        str(settings["timeout"]),
        "--backlog",
        "2048",
        "--log-level",
        "warning",
        app,
    ]
    return Process(name, argv, port=port, log_dir=log_dir, env=env, ready=ready)


def nginx(*, log_dir, storage_dir, static_port, proxy_port, app_port):
    """nginx with two servers: `static_port` serves STORAGE_DIR from disk (the ceiling of a
    download), `proxy_port` proxies to the app on `app_port` and serves the files the app names in
    X-Accel-Redirect from its internal /protected/ location."""
    prefix = Path(log_dir) / "nginx"
    for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    config = Template((BENCH / "nginx.conf.template").read_text()).substitute(
        # Run as root (the benchmark's own case), nginx's workers would otherwise read the files as
        # `nobody`; as another user the directive does not apply.
        user_line="user root;" if os.geteuid() == 0 else "",
        prefix=prefix,
        storage_dir=str(Path(storage_dir).resolve()).rstrip("/") + "/",
        static_port=static_port,
        proxy_port=proxy_port,
        app_port=app_port,
    )
    config_path = prefix / "nginx.conf"
    config_path.write_text(config)
    binary = next((path for path in ("/usr/sbin/nginx", "/usr/bin/nginx") if Path(path).exists()), "nginx")
    argv = [binary, "-p", str(prefix), "-c", str(config_path), "-e", str(prefix / "error.log")]
    return Process("nginx", argv, port=static_port, log_dir=log_dir, ready=None)


def smtp_sink(*, port, log_dir, count_file):
    """The local SMTP server that receives the invitation round (bench/smtp_sink.py)."""
    argv = [sys.executable, str(BENCH / "smtp_sink.py"), str(port), str(count_file)]
    return Process("smtp-sink", argv, port=port, log_dir=log_dir, ready=None)


def rss_kib(pid: int) -> int | None:
    """VmRSS of a process, in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
