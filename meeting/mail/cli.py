"""`flask outbox deliver [--loop] [--batch N] [--interval S] [--connections N]`."""

import signal
import threading
from contextlib import contextmanager
from datetime import datetime

import click
from flask.cli import AppGroup

from .delivery import MAX_CONNECTIONS, deliver_due, pending_count, run_worker

outbox_command = AppGroup("outbox", help="Send the emails waiting in the outbox.")


def _echo_batch(report):
    click.echo(f"{datetime.now():%H:%M:%S} {report.summary()}")


def _echo_development_mode(left):
    click.echo(
        f"MAIL_SERVER is not set (development mode): nothing is sent; {left} emails are kept in the "
        "outbox, where organizers can read them. Set MEETING_MAIL_SERVER to send them."
    )


@contextmanager
def _stop_on_signals(stop):
    """SIGTERM and Ctrl-C end the work after the current message, never in the middle of one; the
    rest of the batch goes back to the queue."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def request_stop(signum, frame):
        click.echo("Stopping after the current message…", err=True)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@outbox_command.command("deliver")
@click.option("--loop", is_flag=True, help="Keep running, sending new emails as they are queued.")
@click.option(
    "--batch", default=50, show_default=True, type=click.IntRange(1, 1000), help="Emails per SMTP connection."
)
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds to wait when nothing is due (with --loop).",
)
@click.option(
    "--connections",
    type=click.IntRange(1, MAX_CONNECTIONS),
    help="How many emails are sent at the same time, each over its own connection to the mail server "
    "(default: the MAIL_DELIVERY_CONNECTIONS setting, 4). More makes a large round faster when the "
    "mail server is far away; 1 sends one email after the other.",
)
def deliver_command(loop, batch, interval, connections):
    """Send the emails that are due, once or (with --loop) until stopped."""
    stop = threading.Event()
    with _stop_on_signals(stop):
        if not loop:
            total = deliver_due(batch=batch, connections=connections, stop=stop, progress=_echo_batch)
            if total.dev_mode:
                _echo_development_mode(total.left)
            else:
                click.echo(f"Done: {total.summary()}.")
            return

        last_kept = None

        def idle(total):
            nonlocal last_kept
            if total.dev_mode and total.left != last_kept:
                _echo_development_mode(total.left)
                last_kept = total.left

        click.echo(f"Delivering the outbox every {interval:g} s when idle ({pending_count()} emails waiting).")
        run_worker(batch=batch, interval=interval, stop=stop, connections=connections, progress=_echo_batch, idle=idle)
        click.echo("Stopped.")
