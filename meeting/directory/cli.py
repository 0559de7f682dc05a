"""`flask directory import FILE.csv`."""

from flask.cli import AppGroup

directory_command = AppGroup("directory", help="Manage the directory of organizations.")
