"""`flask demo`: seeds the demo meeting."""

import click


@click.command("demo")
def demo_command():
    """Seed the demo meeting."""
