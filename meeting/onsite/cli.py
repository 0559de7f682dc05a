"""`flask onsite badges [--loop] [--interval S]`: the worker that makes the long badge print runs."""

import threading

import click
from flask.cli import AppGroup

from .jobs import run_queued, run_worker

onsite_command = AppGroup("onsite", help="On-site work: badges made in the background.")


@onsite_command.command("badges")
@click.option("--loop", is_flag=True, help="Keep running, making new print runs as they are asked for.")
@click.option(
    "--interval",
    default=2.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds to wait when no print run is waiting (with --loop).",
)
def badges_command(loop, interval):
    """Make the badge PDFs that organizers asked for, once or (with --loop) until stopped."""
    if not loop:
        made = run_queued()
        click.echo(f"{made} badge print run{'' if made == 1 else 's'} made.")
        return
    click.echo(f"Making badge print runs as they come (checking every {interval:g} s when idle).")
    stop = threading.Event()
    try:
        run_worker(interval, stop.is_set)
    except KeyboardInterrupt:
        click.echo("Stopped.")
