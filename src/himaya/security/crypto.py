"""The blob-store key: where it comes from, how it is created, and why it lives apart from the home folder.

The home folder (case store + encrypted blob store) may be copied to a share, backed up, or seized along
with the examiner's laptop. Thumbnails of suspected material inside it must stay unreadable without the
key, so the key is a separate file (or an environment variable) that never sits inside the home.
The key never enters the database, a log or a report: only its one-way `key_id` may be stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from himaya.errors import BlobKeyError

log = logging.getLogger(__name__)

KEY_ENV = "HIMAYA_BLOB_KEY"
KEY_SIZE = 32  # AES-256

_KEY_HINT = (
    "a blob key is one line of base64 encoding 32 random bytes, e.g. the output of "
    'python -c "import base64, os; print(base64.b64encode(os.urandom(32)).decode())"'
)


@dataclass(frozen=True)
class KeyInfo:
    """A loaded key. `repr` leaves the key out so that the object can appear in logs and tracebacks."""

    key: bytes = field(repr=False)
    created: bool
    source: str  # the key file's path, or "$HIMAYA_BLOB_KEY"

    def backup_warning(self) -> str:
        """What the CLI prints after `created`: losing this file loses every thumbnail in the home."""
        return (
            f"A new blob-store key was created at {self.source}: back up this key file now and keep it "
            "apart from the home folder; without it, thumbnails stored there cannot be read by anyone."
        )


def key_id(key: bytes) -> str:
    """A short one-way fingerprint of `key`, safe to store, so a wrong key is named before any decryption.

    An HMAC keyed by the key over a fixed label: it recognises the key and is good for nothing else.
    """
    return hmac.new(key, b"himaya blob key id v1", hashlib.sha256).hexdigest()[:16]


def generate_key() -> bytes:
    return secrets.token_bytes(KEY_SIZE)


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode("ascii")


def decode_key(text: str, where: str) -> bytes:
    """Parse one base64 key; the message names `where` and never quotes the (secret) text."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BlobKeyError(f"{where} is not valid base64; {_KEY_HINT}") from None
    if len(key) != KEY_SIZE:
        raise BlobKeyError(f"{where} holds {len(key)} bytes, not {KEY_SIZE}; {_KEY_HINT}")
    return key


def load_or_create_key(key_file: Path, home: Path, *, create: bool = True) -> KeyInfo:
    """The blob key from $HIMAYA_BLOB_KEY, else from `key_file`, created there when missing and `create`.

    Pass `create=False` where a new key would be a mistake (reading an existing home): a fresh key can
    never decrypt blobs written under the old one.
    """
    env_value = os.environ.get(KEY_ENV)
    if env_value is not None:
        key = decode_key(env_value, f"${KEY_ENV}")
        return KeyInfo(key=key, created=False, source=f"${KEY_ENV}")

    key_file = Path(key_file).expanduser()
    _refuse_inside_home(key_file, Path(home).expanduser())
    if key_file.exists():
        return KeyInfo(key=_read_key_file(key_file), created=False, source=str(key_file))
    if not create:
        raise BlobKeyError(
            f"blob key file {key_file} does not exist; restore it from your backup, or point "
            f"--key-file / $HIMAYA_KEY_FILE (or ${KEY_ENV}) at the key this home was created with"
        )
    try:
        return _create_key_file(key_file)
    except OSError as error:
        raise BlobKeyError(
            f"cannot create blob key file {key_file} ({error.strerror or error.__class__.__name__}); "
            "choose a writable place outside the home with --key-file / $HIMAYA_KEY_FILE"
        ) from None


def _refuse_inside_home(key_file: Path, home: Path) -> None:
    # resolve() follows symlinks, so a link from outside into the home is refused too.
    if key_file.resolve().is_relative_to(home.resolve()):
        raise BlobKeyError(
            f"blob key file {key_file} lies inside the home folder {home}; the key must live apart "
            "from the data it protects: use --key-file / $HIMAYA_KEY_FILE to put it elsewhere "
            "(e.g. a removable drive or your user config folder)"
        )


def _read_key_file(key_file: Path) -> bytes:
    try:
        info = key_file.stat()
        text = key_file.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise BlobKeyError(
            f"cannot read blob key file {key_file} ({error.__class__.__name__}); check that it is a "
            "readable file, or restore it from your backup"
        ) from None
    if os.name == "posix" and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        # Still used: refusing would lock the examiner out of a case in the middle of an investigation.
        log.warning(
            "blob key file %s is accessible to other users (mode %o); run: chmod 600 %s",
            key_file,
            stat.S_IMODE(info.st_mode),
            key_file,
        )
    return decode_key(text, f"blob key file {key_file}")


def _make_private_dirs(directory: Path) -> None:
    """Create missing ancestors with mode 0700. Existing folders keep their mode (it may be /tmp or ~)."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is narrowed by the umask, never widened; be exact


def _create_key_file(key_file: Path) -> KeyInfo:
    _make_private_dirs(key_file.parent)
    key = generate_key()
    temp = key_file.with_name(f".{key_file.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(encode_key(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        try:
            # link() never replaces an existing file, so when two first scans race, both end up with the
            # key that won instead of one of them encrypting blobs under a key nobody kept.
            os.link(temp, key_file)
        except FileExistsError:
            return KeyInfo(key=_read_key_file(key_file), created=False, source=str(key_file))
        except OSError:
            # File systems without hard links (FAT, some shares): exclusive create is the fallback.
            if not _write_exclusive(key_file, key):
                return KeyInfo(key=_read_key_file(key_file), created=False, source=str(key_file))
    finally:
        temp.unlink(missing_ok=True)
    _fsync_dir(key_file.parent)
    log.info("created blob key file %s", key_file)
    return KeyInfo(key=key, created=True, source=str(key_file))


def _write_exclusive(key_file: Path, key: bytes) -> bool:
    """False when the file already exists (another process won the race)."""
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encode_key(key) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
