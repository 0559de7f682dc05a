"""WSGI entry point: `flask --app app`, `gunicorn app:app`."""

from meeting import create_app

app = create_app()
