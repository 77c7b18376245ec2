"""Disk-image fixtures (see tests/builders/disk_fixtures.py)."""

from tests.builders.disk_fixtures import *  # noqa: F403
