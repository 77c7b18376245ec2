"""Typed errors that the CLI turns into messages with a next step.

Library code raises these; `himaya.cli` catches `HimayaError` and prints `str(error)` (which always
says what to do next) with the error's exit code.
"""

from __future__ import annotations


class HimayaError(Exception):
    """Base of every error a user can act on. `exit_code` follows the CLI contract (1 failed, 2 usage)."""

    exit_code = 1


class UsageError(HimayaError):
    exit_code = 2


class CaseNotFoundError(UsageError):
    def __init__(self, case_number: str) -> None:
        super().__init__(
            f"case {case_number!r} does not exist in this store; create it with "
            f"'himaya case create {case_number}' or check --home / $HIMAYA_HOME"
        )


class HashSetFormatError(HimayaError):
    """A hash list that cannot be read. Raised before anything is written: imports are all-or-nothing."""

    def __init__(self, source: str, line: int | None, problem: str, hint: str = "") -> None:
        where = f"{source}: line {line}" if line is not None else source
        message = f"{where}: {problem}"
        if hint:
            message += f"; {hint}"
        super().__init__(message)
        self.source = source
        self.line = line
        self.problem = problem


class TipFormatError(HimayaError):
    """A tip, referral or log that cannot be read. Raised before anything is returned: a file is taken whole
    or not at all. `where` is a line ("line 1234"), an XML element path or a JSON pointer."""

    def __init__(self, source: str, where: str | None, problem: str, hint: str = "") -> None:
        location = f"{source}: {where}" if where else source
        message = f"{location}: {problem}"
        if hint:
            message += f"; {hint}"
        super().__init__(message)
        self.source = source
        self.where = where
        self.problem = problem
        self.hint = hint


class BlobKeyError(HimayaError):
    """The blob-store key is missing, unreadable or wrong."""


class BlobStoreError(HimayaError):
    pass


class EvidenceError(HimayaError):
    """One evidence file or member could not be read; recorded on that file, the scan goes on."""


class OnlineError(HimayaError):
    """Online capture, hosting look-up, notices or re-checks could not do what was asked."""


class BlockedAddressError(OnlineError):
    """A fetch would have reached an address the unit's policy refuses (private, loopback, link-local...).

    Raised before any packet is sent to it: the check runs on the resolved address, for every redirect hop.
    """

    def __init__(self, url: str, address: str, reason: str) -> None:
        super().__init__(
            f"refused to fetch {url}: it resolves to {address} ({reason}); Himaya fetches only public "
            "addresses. If this network really must be reached, allow it with --allow-network CIDR "
            "(or the setting online.allow_networks)"
        )
        self.url = url
        self.address = address
        self.reason = reason


class NoticeError(OnlineError):
    """A notice could not be rendered or sent; it stays recorded as 'to send' for a person."""
