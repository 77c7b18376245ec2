"""The encrypted blob store: thumbnails, captures and other picture content at rest.

Each blob is one file `root/ab/cd/<id>` holding `b"HMYB1" + nonce (12 bytes) + AES-256-GCM ciphertext`.

- Ids are random, not content hashes: a content address would be the file's digest, and the store's
  directory listing alone would then tell anyone which known pictures a case holds.
- The blob id is the GCM associated data, so moving or renaming a blob file to another id fails to
  decrypt instead of silently showing the wrong picture against a file record.
- Plaintext never touches the disk: the temporary file that becomes the blob already holds ciphertext.
"""

from __future__ import annotations

import copy
import ctypes
import ctypes.util
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from himaya.errors import BlobKeyError, BlobStoreError
from himaya.security.crypto import KEY_SIZE

MAGIC = b"HMYB1"
NONCE_SIZE = 12  # 96 bits: GCM's native nonce size; random nonces are safe far beyond 2**32 blobs per key
TAG_SIZE = 16
_BLOB_ID = re.compile(r"[0-9a-f]{32}")


class BlobStore:
    """Put, get, test and delete encrypted blobs under `root`.

    Built from plain values (a path and key bytes) so that it pickles into `spawn` worker processes;
    the cipher object itself is rebuilt on the other side.
    """

    def __init__(self, root: Path, key: bytes, *, durable: bool = True) -> None:
        if len(key) != KEY_SIZE:
            raise BlobKeyError(f"blob key must be {KEY_SIZE} bytes, got {len(key)}; check the key file")
        self.root = Path(root)
        self._key = bytes(key)
        # fsync each blob before it is named: a thumbnail the case store points at must survive a crash.
        self.durable = durable
        self._aead = AESGCM(self._key)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.root, self._key, self.durable))

    def deferred(self) -> BlobStore:
        """The same store with no fsync per blob: for writers whose blobs are made durable together by
        `sync()` before anything that points at them is committed (a scan's workers, their parent)."""
        twin = copy.copy(self)  # a subclass stays itself
        twin.durable = False
        return twin

    def sync(self) -> None:
        """Flush every blob written so far to disk: one `syncfs` of the store's file system instead of an
        fsync per blob (a scan writes two per picture). Falls back to `os.sync()` where there is none."""
        if not self.root.exists():
            return
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _syncfs is None or _syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def __repr__(self) -> str:
        return f"BlobStore(root={str(self.root)!r})"  # never the key

    def path_for(self, blob_id: str) -> Path:
        _check_id(blob_id)
        return self.root / blob_id[:2] / blob_id[2:4] / blob_id

    def put(self, data: bytes) -> str:
        """Encrypt and store `data`; return its new blob id (32 lower-case hex characters).

        128 random bits make an id collision negligible (about 2**-64 after 2**32 blobs), so no check.
        """
        blob_id = secrets.token_hex(16)
        path = self.path_for(blob_id)
        nonce = os.urandom(NONCE_SIZE)
        sealed = MAGIC + nonce + self._aead.encrypt(nonce, data, blob_id.encode("ascii"))
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in (path.parent.parent, path.parent):
            folder.mkdir(mode=0o700, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(sealed)
                if self.durable:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return blob_id

    def get(self, blob_id: str) -> bytes:
        path = self.path_for(blob_id)
        try:
            sealed = path.read_bytes()
        except FileNotFoundError:
            raise BlobStoreError(
                f"blob {blob_id} is missing from {self.root}; the blob store is incomplete "
                "(restore it from the same backup as the case store)"
            ) from None
        except OSError as error:
            raise BlobStoreError(f"blob {blob_id} cannot be read: {error}") from None
        header = len(MAGIC) + NONCE_SIZE
        if len(sealed) < header + TAG_SIZE or not sealed.startswith(MAGIC):
            raise BlobStoreError(
                f"blob {blob_id} is not a Himaya blob (bad header); the blob store is damaged or tampered"
            )
        nonce = sealed[len(MAGIC) : header]
        try:
            return self._aead.decrypt(nonce, sealed[header:], blob_id.encode("ascii"))
        except InvalidTag:
            raise BlobStoreError(
                f"blob {blob_id} cannot be decrypted: wrong key file or tampered blob store"
            ) from None

    def exists(self, blob_id: str) -> bool:
        return self.path_for(blob_id).is_file()

    def delete(self, blob_id: str) -> bool:
        """Remove a blob; False if it was not there (deleting twice is not an error)."""
        try:
            self.path_for(blob_id).unlink()
        except FileNotFoundError:
            return False
        return True


def _load_syncfs() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_syncfs = _load_syncfs()


def _rebuild(root: Path, key: bytes, durable: bool) -> BlobStore:
    return BlobStore(root, key, durable=durable)


def _check_id(blob_id: str) -> None:
    # The id becomes a path: only lower-case hex of the exact length, so "../x" or "/etc" never resolve.
    if not isinstance(blob_id, str) or _BLOB_ID.fullmatch(blob_id) is None:
        raise BlobStoreError(f"invalid blob id {blob_id!r}: expected 32 lower-case hex characters")
