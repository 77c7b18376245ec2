"""Disk images built once per test session (per xdist worker) from the benign sample tree.

Imported by the conftest of each test folder that scans disk images; fixtures build only when used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.builders import disks
from tests.builders.disks import FsContent, MissingTool

PASSWORD = "TEST-volume-password"


def _build(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Path]) -> Path:
    folder = factory.mktemp(name)
    try:
        return make(folder)
    except MissingTool as exc:
        pytest.skip(f"{exc.tool} is not installed (make setup installs it)")


@pytest.fixture(scope="session")
def content() -> FsContent:
    return disks.sample_content()


@pytest.fixture(scope="session")
def ext4_img(tmp_path_factory: pytest.TempPathFactory, content: FsContent) -> Path:
    return _build(
        tmp_path_factory,
        "ext4",
        lambda d: disks.ext4_image(d / "ext4.img", content.files, deleted=content.deleted),
    )


@pytest.fixture(scope="session")
def fat16_img(tmp_path_factory: pytest.TempPathFactory, content: FsContent) -> Path:
    return _build(
        tmp_path_factory,
        "fat16",
        lambda d: disks.fat_image(d / "fat16.img", content.files, fat_bits=16, deleted=content.deleted),
    )


@pytest.fixture(scope="session")
def ntfs_img(tmp_path_factory: pytest.TempPathFactory, content: FsContent) -> Path:
    return _build(
        tmp_path_factory,
        "ntfs",
        lambda d: disks.ntfs_image(d / "ntfs.img", content.files, deleted=content.deleted),
    )


@pytest.fixture(scope="session")
def gpt_disk(tmp_path_factory: pytest.TempPathFactory, ntfs_img: Path, ext4_img: Path) -> Path:
    return _build(
        tmp_path_factory, "gpt", lambda d: disks.partitioned(d / "gpt.raw", [ntfs_img, ext4_img], "gpt")
    )


@pytest.fixture(scope="session")
def mbr_disk(tmp_path_factory: pytest.TempPathFactory, fat16_img: Path, ext4_img: Path) -> Path:
    return _build(
        tmp_path_factory, "mbr", lambda d: disks.partitioned(d / "mbr.raw", [fat16_img, ext4_img], "mbr")
    )


@pytest.fixture(scope="session")
def e01_disk(tmp_path_factory: pytest.TempPathFactory, gpt_disk: Path) -> Path:
    return _build(tmp_path_factory, "e01", lambda d: disks.e01(gpt_disk, d, name="seized"))


@pytest.fixture(scope="session")
def luks_payload(tmp_path_factory: pytest.TempPathFactory, content: FsContent) -> Path:
    return _build(tmp_path_factory, "payload", lambda d: disks.ext4_image(d / "payload.img", content.files))
