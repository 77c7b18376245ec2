"""A small seized-laptop E01 for the demo: a GPT disk with an ext4 partition holding demo pictures, one of
them deleted (still addressable, and carvable from unallocated space).

Built with the same userland tools the test fixtures use (mke2fs -d, debugfs, sfdisk, ewfacquire), which
`make setup` installs; nothing is mounted. Where a tool is missing the disk part of the demo is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MiB = 1024 * 1024
IMAGE_NAME = "seized-laptop"
TOOLS = ("mke2fs", "debugfs", "sfdisk", "ewfacquire")
# 2024-03-15 10:20:30 UTC: fixed file-system times, so the demo's disk looks the same on every run.
FIXED_TIME = "1710498030"
_LINUX_FS = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"


@dataclass(frozen=True)
class DemoDisk:
    image: Path  # the .E01
    live_listed: str  # path inside the image of a listed picture, still in place
    deleted_listed: str  # ... and of one deleted (found as a deleted file and carved)
    distinct: str  # a picture that is not listed


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def build_demo_disk(out_dir: Path, pictures: dict[str, bytes], listed: tuple[str, ...]) -> DemoDisk | None:
    """The demo's E01 in `out_dir`, or None when a tool is missing. `pictures`: name → JPEG bytes."""
    if missing_tools() or len(listed) < 2:
        return None
    distinct = next(name for name in sorted(pictures) if name not in listed)
    live, deleted = listed[0], listed[1]
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(f"{IMAGE_NAME}.*"):
        old.unlink()
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": FIXED_TIME, "LC_ALL": "C"}
    with tempfile.TemporaryDirectory(prefix="himaya-demo-disk-") as scratch_name:
        scratch = Path(scratch_name)
        tree = scratch / "tree"
        files = {
            f"Users/demo/Pictures/{live}": pictures[live],
            f"Users/demo/Pictures/old/{deleted}": pictures[deleted],
            f"Users/demo/Desktop/{distinct}": pictures[distinct],
            "Users/demo/Documents/notes.txt": b"TEST demo notes: nothing to see here.\n",
        }
        for relative, data in files.items():
            target = tree / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        fs_image = scratch / "p1.ext4"
        _run(
            [
                "mke2fs",
                "-q",
                "-F",
                "-t",
                "ext4",
                "-b",
                "4096",
                "-L",
                "DEMO",
                "-d",
                str(tree),
                str(fs_image),
                "8M",
            ],
            env,
        )
        _run(["debugfs", "-w", "-R", f'rm "/Users/demo/Pictures/old/{deleted}"', str(fs_image)], env)
        raw = scratch / f"{IMAGE_NAME}.raw"
        size = fs_image.stat().st_size
        with raw.open("wb") as handle:
            handle.truncate(MiB + size + MiB)
        _run(
            ["sfdisk", "--no-reread", "--no-tell-kernel", "-q", str(raw)],
            env,
            f"label: gpt\nstart=2048, size={size // 512}, type={_LINUX_FS}\n",
        )
        with raw.open("r+b") as disk, fs_image.open("rb") as part:
            disk.seek(MiB)
            shutil.copyfileobj(part, disk, MiB)
        _run(
            [
                "ewfacquire", "-u", "-t", str(out_dir / IMAGE_NAME), "-f", "encase6", "-c", "fast",
                "-d", "sha1",
                "-C", "DEMO-0001", "-D", "Demo laptop disk (benign, synthetic)", "-E", "DEMO-EV-1",
                "-e", "Demo examiner", "-N", "TEST demo acquisition", "-q", str(raw),
            ],
            env,
        )  # fmt: skip
    return DemoDisk(
        image=out_dir / f"{IMAGE_NAME}.E01",
        live_listed=f"Users/demo/Pictures/{live}",
        deleted_listed=f"Users/demo/Pictures/old/{deleted}",
        distinct=f"Users/demo/Desktop/{distinct}",
    )


def _run(command: list[str], env: dict[str, str], stdin: str | None = None) -> None:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{command[0]} failed building the demo disk: {done.stderr.strip() or done.stdout}"
        )
