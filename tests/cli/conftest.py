"""Disk-image fixtures (see tests/builders/disk_fixtures.py)."""

from tests.builders.disk_fixtures import *  # noqa: F403
from tests.cli.test_cli import himaya  # noqa: F401 - the command-line fixture, for every module here
