"""LUKS2 volumes through the `HIMAYA_LUKS2` dfVFS layer.

The volumes are built here from benign files: an ext4 image (`mke2fs -d`), encrypted in place by
`cryptsetup reencrypt --encrypt` (works on a plain file, no device-mapper), with a cheap PBKDF2 so that a
password try costs milliseconds. The password below is test data, not a secret.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from dfvfs.credentials import keychain
from dfvfs.helpers import source_scanner
from dfvfs.lib import definitions
from dfvfs.lib import errors as dfvfs_errors
from dfvfs.path import factory
from dfvfs.resolver import context, resolver
from dfvfs.serializer import json_serializer
from hypothesis import given
from hypothesis import strategies as st

from himaya.sources.disk import luks2

PASSWORD = "benign-test-password"
FILES = {
    "hello.txt": b"Hello from a benign LUKS2 test volume.\n",
    "docs/notes.bin": b"".join(hashlib.sha256(b"notes %d" % index).digest() for index in range(10_000)),
}
PREFIX = 1024 * 1024  # where the LUKS2 partition starts in the "disk" fixture

needs_tools = pytest.mark.skipif(
    shutil.which("cryptsetup") is None or shutil.which("mke2fs") is None,
    reason="needs cryptsetup and mke2fs (Debian/Ubuntu: cryptsetup-bin, e2fsprogs)",
)
pytestmark = needs_tools


# -- builders ----------------------------------------------------------------------------------------


def _run(*command: str, stdin: bytes = b"") -> None:
    subprocess.run(command, input=stdin, check=True, capture_output=True)


def _ext4(folder: Path, block_size: int) -> Path:
    content = folder / "content"
    for name, data in FILES.items():
        (content / name).parent.mkdir(parents=True, exist_ok=True)
        (content / name).write_bytes(data)
    image = folder / "plain.ext4"
    _run("mke2fs", "-q", "-F", "-t", "ext4", "-b", str(block_size), "-d", str(content), str(image), "16M")
    return image


def _encrypt_in_place(image: Path, password: str, sector_size: int) -> None:
    """LUKS2 around the data already in `image`: cryptsetup shifts it up by 2 MiB to make room."""
    with image.open("ab") as grow:
        grow.truncate(image.stat().st_size + 4 * 1024 * 1024)
    _run(
        "cryptsetup", "reencrypt", "--encrypt", "--type", "luks2", "--reduce-device-size", "4M",
        "--sector-size", str(sector_size), "--batch-mode", "--key-file", "-",
        "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", str(image),
        stdin=password.encode(),
    )  # fmt: skip


@dataclass(frozen=True)
class Volume:
    path: Path  # the LUKS2 volume
    plain: Path  # the ext4 image that was encrypted
    sector_size: int


def _volume(folder: Path, sector_size: int) -> Volume:
    folder.mkdir(parents=True)
    plain = _ext4(folder, block_size=1024 if sector_size == 512 else 4096)
    path = folder / "luks2.img"
    shutil.copyfile(plain, path)
    _encrypt_in_place(path, PASSWORD, sector_size)
    return Volume(path, plain, sector_size)


@pytest.fixture(scope="module")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Volume]:
    root = tmp_path_factory.mktemp("luks2")
    return {size: _volume(root / f"sectors-{size}", size) for size in (512, 4096)}


@pytest.fixture(scope="module")
def volume(volumes: dict[int, Volume]) -> Volume:
    return volumes[512]


@pytest.fixture(scope="module")
def disk(volume: Volume, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The LUKS2 volume as a partition: 1 MiB of something else in front of it."""
    path = tmp_path_factory.mktemp("disk") / "disk.img"
    with path.open("wb") as out:
        out.write(b"\x00" * PREFIX)
        out.write(volume.path.read_bytes())
    return path


@pytest.fixture(autouse=True)
def _fresh_dfvfs_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own key chain and an empty volume-key cache."""
    luks2.register()
    monkeypatch.setattr(resolver.Resolver, "key_chain", keychain.KeyChain())
    luks2.forget_volume_keys()
    yield
    luks2.forget_volume_keys()


# -- helpers -----------------------------------------------------------------------------------------


def os_spec(path: Path) -> Any:
    return factory.Factory.NewPathSpec(definitions.TYPE_INDICATOR_OS, location=str(path))


def luks2_spec(parent: Any, password: str | None = PASSWORD) -> Any:
    spec = factory.Factory.NewPathSpec(luks2.TYPE_INDICATOR, parent=parent)
    if password is not None:
        resolver.Resolver.key_chain.SetCredential(spec, "password", password)
    return spec


def read_file(file_spec: Any) -> bytes:
    entry = resolver.Resolver.OpenFileEntry(file_spec, resolver_context=context.Context())
    assert entry is not None
    data: bytes = entry.GetFileObject().read()
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def straight_decryption(volume: Volume, key: bytes, header: luks2.Luks2Header) -> bytes:
    """The whole payload decrypted one sector at a time with cryptography's own AES-XTS."""
    segment = header.segment
    encrypted = volume.path.read_bytes()[segment.offset :]
    encrypted = encrypted[: header.payload_size(volume.path.stat().st_size)]
    step = segment.sector_size // 512
    out = bytearray()
    for index in range(len(encrypted) // segment.sector_size):
        tweak = (index * step + segment.iv_tweak).to_bytes(16, "little")
        sector = encrypted[index * segment.sector_size : (index + 1) * segment.sector_size]
        out += Cipher(algorithms.AES(key), modes.XTS(tweak)).decryptor().update(sector)
    return bytes(out)


@pytest.fixture(scope="module")
def payloads(volumes: dict[int, Volume]) -> dict[int, tuple[bytes, bytes]]:
    """Per sector size: (volume key, straight decryption of the payload)."""
    found = {}
    for size, volume in volumes.items():
        with volume.path.open("rb") as data:
            header = luks2.read_header(data)
            key = luks2.derive_volume_key(data, header, PASSWORD)
        found[size] = (key, straight_decryption(volume, key, header))
    return found


# -- what dfVFS does on its own ----------------------------------------------------------------------


def test_dfvfs_alone_does_not_open_luks2(volume: Volume) -> None:
    """The reason for this layer: libluksde (dfVFS's LUKSDE) reads LUKS1 only; the scanner raises."""
    luksde = factory.Factory.NewPathSpec(definitions.TYPE_INDICATOR_LUKSDE, parent=os_spec(volume.path))
    resolver.Resolver.key_chain.SetCredential(luksde, "password", PASSWORD)
    with pytest.raises(dfvfs_errors.BackEndError):
        resolver.Resolver.OpenFileObject(luksde, resolver_context=context.Context())

    scanner = source_scanner.SourceScanner()
    scan_context = source_scanner.SourceScannerContext()
    scan_context.OpenSourcePath(str(volume.path))
    with pytest.raises(dfvfs_errors.BackEndError):
        scanner.Scan(scan_context)
    # The scanner left a LUKSDE node for the volume: that is where HIMAYA_LUKS2 takes over.
    node = scan_context.GetRootScanNode()
    while node.sub_nodes:  # OS, then RAW for an .img name, then LUKSDE
        node = node.sub_nodes[0]
    assert node.type_indicator == definitions.TYPE_INDICATOR_LUKSDE
    parent = resolver.Resolver.OpenFileObject(node.path_spec.parent, resolver_context=context.Context())
    assert luks2.is_luks2(parent)
    spec = luks2_spec(node.path_spec.parent)
    file_system_spec = source_scanner.SourceScanner().ScanForFileSystem(spec)
    assert file_system_spec is not None
    assert file_system_spec.parent.type_indicator == luks2.TYPE_INDICATOR


# -- header ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sector_size", [512, 4096])
def test_header(volumes: dict[int, Volume], sector_size: int) -> None:
    volume = volumes[sector_size]
    uuid = subprocess.run(
        ["cryptsetup", "luksUUID", str(volume.path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    with volume.path.open("rb") as data:
        assert luks2.is_luks2(data)
        header = luks2.read_header(data)
    assert header.uuid == uuid
    assert header.keyslot_count == 1
    assert header.header_size == 16384
    assert not header.from_secondary
    assert header.segment == luks2.Luks2Segment(
        offset=2 * 1024 * 1024, size=None, encryption="aes-xts-plain64", sector_size=sector_size, iv_tweak=0
    )
    assert header.metadata_size == header.segment.offset  # both copies + key slots, then the payload
    # "dynamic": to the end of the file; the tail behind the ext4 image is what the fixture grew it by.
    size = volume.path.stat().st_size
    assert header.payload_size(size) == size - header.segment.offset


def test_damaged_primary_header_falls_back_to_the_secondary(volume: Volume, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.img"
    shutil.copyfile(volume.path, damaged)
    with damaged.open("r+b") as data:
        data.seek(4096 + 10)  # inside the primary JSON area
        data.write(b"#")
    with damaged.open("rb") as data:
        header = luks2.read_header(data)
    assert header.from_secondary
    spec = factory.Factory.NewPathSpec(definitions.TYPE_INDICATOR_TSK, location="/hello.txt",
                                       parent=luks2_spec(os_spec(damaged)))  # fmt: skip
    assert read_file(spec) == FILES["hello.txt"]


# -- opening through dfVFS ---------------------------------------------------------------------------


@pytest.mark.parametrize("sector_size", [512, 4096])
def test_right_password_opens_the_file_system_inside(volumes: dict[int, Volume], sector_size: int) -> None:
    volume = volumes[sector_size]
    encrypted = luks2_spec(os_spec(volume.path))

    payload = resolver.Resolver.OpenFileObject(encrypted, resolver_context=context.Context())
    assert payload.get_size() == volume.path.stat().st_size - 2 * 1024 * 1024
    plain = volume.plain.read_bytes()
    assert payload.read(len(plain)) == plain  # what cryptsetup encrypted, byte for byte

    for name, data in FILES.items():
        spec = factory.Factory.NewPathSpec(
            definitions.TYPE_INDICATOR_TSK, location=f"/{name}", parent=encrypted
        )
        assert sha256(read_file(spec)) == sha256(data)


def test_volume_inside_a_partition(disk: Path, volume: Volume) -> None:
    """The header is copied from the dfVFS parent (here a data range, as a partition would be)."""
    partition = factory.Factory.NewPathSpec(
        definitions.TYPE_INDICATOR_DATA_RANGE,
        range_offset=PREFIX,
        range_size=disk.stat().st_size - PREFIX,
        parent=os_spec(disk),
    )
    encrypted = luks2_spec(partition)
    root = factory.Factory.NewPathSpec(definitions.TYPE_INDICATOR_TSK, location="/", parent=encrypted)
    file_system = resolver.Resolver.OpenFileSystem(root, resolver_context=context.Context())
    names = {entry.name for entry in file_system.GetRootFileEntry().sub_file_entries}
    assert {"hello.txt", "docs"} <= names
    spec = factory.Factory.NewPathSpec(
        definitions.TYPE_INDICATOR_TSK, location="/docs/notes.bin", parent=encrypted
    )
    assert sha256(read_file(spec)) == sha256(FILES["docs/notes.bin"])


def test_file_object_seek_and_read(volume: Volume, payloads: dict[int, tuple[bytes, bytes]]) -> None:
    payload = resolver.Resolver.OpenFileObject(
        luks2_spec(os_spec(volume.path)), resolver_context=context.Context()
    )
    key, plain = payloads[512]
    assert payload.get_size() == len(plain)
    payload.seek(1000)
    assert payload.read(3000) == plain[1000:4000]
    assert payload.get_offset() == 4000
    payload.seek(-10, os.SEEK_END)
    assert payload.read(100) == plain[-10:]
    assert payload.read(1) == b""
    payload.seek(5, os.SEEK_SET)
    payload.seek(7, os.SEEK_CUR)
    assert payload.tell() == 12
    with pytest.raises(OSError, match="less than zero"):
        payload.seek(-1)
    assert "key" not in repr(payload).lower()
    assert key.hex() not in repr(payload)


# -- passwords ---------------------------------------------------------------------------------------


def test_wrong_password_is_refused_without_revealing_it(
    volume: Volume, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temporary))
    wrong = "not-the-benign-password"
    spec = luks2_spec(os_spec(volume.path), password=wrong)

    with pytest.raises(luks2.Luks2PasswordError) as raised:
        resolver.Resolver.OpenFileObject(spec, resolver_context=context.Context())

    message = str(raised.value)
    assert "password does not open any key slot" in message
    assert message.startswith("LUKS2 volume ")
    for shown in (message, repr(raised.value), repr(raised.value.args)):
        assert wrong not in shown
        assert PASSWORD not in shown
    assert raised.value.__cause__ is None
    assert isinstance(raised.value, luks2.Luks2Error)
    assert list(temporary.iterdir()) == []  # the header copy and its folder are gone


def test_missing_password_says_how_to_give_one(volume: Volume) -> None:
    spec = luks2_spec(os_spec(volume.path), password=None)
    with pytest.raises(luks2.Luks2PasswordError, match=r"no password was given.*SetCredential"):
        resolver.Resolver.OpenFileObject(spec, resolver_context=context.Context())


def test_volume_key_is_derived_once_per_password(volume: Volume, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real_run: Callable[..., subprocess.CompletedProcess[bytes]] = subprocess.run

    def counting_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(command)
        assert PASSWORD not in " ".join(command)  # the password goes on stdin only
        return real_run(command, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting_run)
    spec = luks2_spec(os_spec(volume.path))
    for _ in range(3):  # fresh resolver contexts, as in separate sources of one worker
        resolver.Resolver.OpenFileObject(spec, resolver_context=context.Context())
    assert len(calls) == 1

    # A wrong password is not served from the cache of the right one.
    resolver.Resolver.key_chain.SetCredential(spec, "password", "another-wrong-one")
    with pytest.raises(luks2.Luks2PasswordError):
        resolver.Resolver.OpenFileObject(spec, resolver_context=context.Context())
    assert len(calls) == 2


# -- serialized path specs ---------------------------------------------------------------------------


def test_serialized_spec_round_trips_and_reopens(volume: Volume) -> None:
    encrypted = luks2_spec(os_spec(volume.path))
    file_spec = factory.Factory.NewPathSpec(
        definitions.TYPE_INDICATOR_TSK, location="/hello.txt", parent=encrypted
    )
    before = read_file(file_spec)

    text = json_serializer.JsonPathSpecSerializer.WriteSerialized(file_spec)
    assert '"type_indicator": "HIMAYA_LUKS2"' in text
    assert PASSWORD not in text
    assert "password" not in text
    assert luks2.to_json(file_spec) == text

    for back in (json_serializer.JsonPathSpecSerializer.ReadSerialized(text), luks2.from_json(text)):
        assert back.comparable == file_spec.comparable
        assert back.parent.type_indicator == luks2.TYPE_INDICATOR
        luks2.forget_volume_keys()
        assert read_file(back) == before == FILES["hello.txt"]


def test_register_is_idempotent() -> None:
    luks2.register()
    luks2.register()
    assert factory.Factory.NewPathSpec(luks2.TYPE_INDICATOR, parent=os_spec(Path("/x"))).type_indicator == (
        luks2.TYPE_INDICATOR
    )
    with pytest.raises(ValueError, match="parent"):
        luks2.Luks2PathSpec()


# -- what is refused ---------------------------------------------------------------------------------


def test_non_luks_input_is_refused(volume: Volume) -> None:
    with volume.plain.open("rb") as data:
        assert not luks2.is_luks2(data)
        with pytest.raises(luks2.NotLuks2Error, match="not a LUKS2 volume"):
            luks2.read_header(data)
    assert not luks2.is_luks2(io.BytesIO(b""))
    spec = luks2_spec(os_spec(volume.plain))
    with pytest.raises(luks2.NotLuks2Error, match="not a LUKS2 volume"):
        resolver.Resolver.OpenFileObject(spec, resolver_context=context.Context())


def test_luks1_is_sent_to_dfvfs_luksde(tmp_path: Path) -> None:
    path = tmp_path / "luks1.img"
    path.write_bytes(bytes(4 * 1024 * 1024))
    _run("cryptsetup", "luksFormat", "--type", "luks1", "--batch-mode", "--key-file", "-",
         "--pbkdf-force-iterations", "1000", str(path), stdin=PASSWORD.encode())  # fmt: skip
    with path.open("rb") as data:
        assert not luks2.is_luks2(data)
        with pytest.raises(luks2.NotLuks2Error, match=r"LUKS1 volume.*LUKSDE"):
            luks2.read_header(data)


def test_unsupported_cipher_is_refused_before_any_password(tmp_path: Path) -> None:
    path = tmp_path / "cbc.img"
    path.write_bytes(bytes(20 * 1024 * 1024))
    _run("cryptsetup", "luksFormat", "--type", "luks2", "--cipher", "aes-cbc-essiv:sha256",
         "--key-size", "256", "--batch-mode", "--key-file", "-", "--pbkdf", "pbkdf2",
         "--pbkdf-force-iterations", "1000", str(path),
         stdin=PASSWORD.encode())  # fmt: skip
    with path.open("rb") as data:
        assert luks2.is_luks2(data)
        with pytest.raises(luks2.Luks2UnsupportedError, match=r"'aes-cbc-essiv:sha256'.*aes-xts-plain64"):
            luks2.read_header(data)


# -- the decrypting reader ---------------------------------------------------------------------------


@given(
    sector_size=st.sampled_from([512, 4096]),
    offset=st.integers(0, 16 * 1024 * 1024 + 4096),
    length=st.integers(0, 3 * 1024 * 1024),
)
def test_reader_matches_straight_decryption(
    volumes: dict[int, Volume],
    payloads: dict[int, tuple[bytes, bytes]],
    sector_size: int,
    offset: int,
    length: int,
) -> None:
    volume = volumes[sector_size]
    key, plain = payloads[sector_size]
    with volume.path.open("rb") as data:
        header = luks2.read_header(data)
        reader = luks2.Luks2Reader(data, header, key, volume.path.stat().st_size)
        assert reader.read_at(offset, length) == plain[offset : offset + length]
        reader.seek(offset)
        assert reader.read(length) == plain[offset : offset + length]
        assert key.hex() not in repr(reader)


@given(
    sector_size=st.sampled_from([512, 1024, 4096]),
    iv_tweak=st.sampled_from([0, 8, 8 * 1000]),
    offset=st.integers(0, 70_000),
    length=st.integers(0, 70_000),
)
def test_reader_applies_sector_size_and_iv_tweak(
    sector_size: int, iv_tweak: int, offset: int, length: int
) -> None:
    """Synthetic payloads: IV = first 512-byte sector of each encryption sector + iv_tweak."""
    key = bytes(range(64))
    sectors = 64 * 1024 // sector_size
    plain = b"".join(hashlib.sha512(b"%d" % index).digest() for index in range(1024))
    encrypted = bytearray()
    for index in range(sectors):
        tweak = (index * (sector_size // 512) + iv_tweak).to_bytes(16, "little")
        sector = plain[index * sector_size : (index + 1) * sector_size]
        encrypted += Cipher(algorithms.AES(key), modes.XTS(tweak)).encryptor().update(sector)
    segment = luks2.Luks2Segment(
        offset=4096, size=None, encryption="aes-xts-plain64", sector_size=sector_size, iv_tweak=iv_tweak
    )
    header = luks2.Luks2Header(
        uuid="synthetic",
        label="",
        header_size=16384,
        sequence_id=1,
        keyslots_size=0,
        keyslot_count=0,
        segment=segment,
    )
    volume = io.BytesIO(bytes(4096) + bytes(encrypted))
    reader = luks2.Luks2Reader(volume, header, key, 4096 + len(encrypted))
    assert reader.size == len(plain)
    assert reader.read_at(offset, length) == plain[offset : offset + length]
    wrong = luks2.Luks2Reader(
        volume, replace(header, segment=replace(segment, iv_tweak=iv_tweak + 1)), key, 4096 + len(encrypted)
    )
    if min(length, len(plain) - offset) >= 16:
        assert wrong.read_at(offset, length) != plain[offset : offset + length]
