"""WSGI entry point: `flask --app app`, `gunicorn app:app`."""

import gc

from meeting import create_app

app = create_app()

# What the app holds from now on (modules, models, compiled templates, routes) lives as long as the
# process: the garbage collector no longer goes through it at every full collection, which otherwise
# comes back every few hundred requests and costs each of them a share of its time.
gc.freeze()
