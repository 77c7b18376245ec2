"""Keys for encrypted volumes, held in memory only.

An examiner supplies passwords, recovery passwords (BitLocker's 48 digits, FileVault's recovery key) and
BitLocker startup key files; Himaya tries each on every encrypted volume it meets. What opened which
volume is remembered as `VolumeKey`s so that worker processes can open the same volume again; neither
ever reaches the store, a log, an export or a report (their `repr` shows counts, never values).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class VolumeCredentials:
    passwords: tuple[str, ...] = ()
    recovery_passwords: tuple[str, ...] = ()
    startup_key_files: tuple[str, ...] = ()  # paths of BitLocker .BEK files

    def candidates(self, credential_types: frozenset[str]) -> list[tuple[str, str]]:
        """(dfVFS credential identifier, value) pairs worth trying on a volume that accepts these types."""
        found: list[tuple[str, str]] = []
        if "password" in credential_types:
            found += [("password", value) for value in self.passwords]
        if "recovery_password" in credential_types:
            found += [("recovery_password", value) for value in self.recovery_passwords]
        if "startup_key" in credential_types:
            found += [("startup_key", value) for value in self.startup_key_files]
        return found

    @property
    def count(self) -> int:
        return len(self.passwords) + len(self.recovery_passwords) + len(self.startup_key_files)

    def __bool__(self) -> bool:
        return self.count > 0

    def __repr__(self) -> str:
        return f"VolumeCredentials({self.count} given)"


@dataclass(frozen=True)
class VolumeKey:
    """The credential that opened one encrypted volume, keyed by the volume's serialized path spec."""

    path_spec: str
    credential: str  # dfVFS identifier: password | recovery_password | startup_key
    value: str = field(repr=False)


@dataclass(frozen=True)
class VolumeKeys:
    keys: tuple[VolumeKey, ...] = ()

    def __repr__(self) -> str:
        return f"VolumeKeys({len(self.keys)} volumes)"
