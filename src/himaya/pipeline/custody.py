"""Custody records a scan adds to evidence items: E01 verification, and what a phone extraction is.

Verifying an E01 reads the whole image once more. It runs in a process of its own beside the scan's
workers, so the examiner does not wait for it before the first hits; its result is recorded when the
scan finishes, as a custody event on the evidence item (a mismatch loudly, on screen and in the record).
An interrupted scan records nothing; the next run verifies again.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from rich.console import Console
from sqlalchemy import select

from himaya.sources.disk.ewf import EwfVerification, verify
from himaya.sources.disk.layers import DiskLayout
from himaya.sources.phone import detect_layout
from himaya.store.db import Store
from himaya.store.models import CustodyEvent, EvidenceItem, File

VERIFIED = "acquisition verified"
MISMATCH = "ACQUISITION HASH MISMATCH"
UNVERIFIABLE = "acquisition not verifiable"
_EVENTS = (VERIFIED, MISMATCH, UNVERIFIABLE)

# How many stored paths are enough to tell an extraction's layout.
_LAYOUT_SAMPLE = 5000


class EwfVerifier:
    def __init__(self, store: Store, jobs: dict[int, Path]) -> None:
        self.store = store
        self.jobs = jobs
        self.futures: dict[int, Future[EwfVerification]] = {}
        self._executor: ProcessPoolExecutor | None = None
        if jobs:
            self._executor = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn")
            )
            for item_id, path in jobs.items():
                self.futures[item_id] = self._executor.submit(verify, path)

    @classmethod
    def start(cls, store: Store, items: list[EvidenceItem], layouts: dict[int, DiskLayout]) -> EwfVerifier:
        """Verifies each E01 not verified before (a custody event says so)."""
        candidates = {
            item.id: Path(item.source_path)
            for item in items
            if item.id in layouts and layouts[item.id].image_format == "EWF"
        }
        if not candidates:
            return cls(store, {})
        with store.session() as session:
            done = set(
                session.scalars(
                    select(CustodyEvent.evidence_id).where(
                        CustodyEvent.evidence_id.in_(candidates), CustodyEvent.event.in_(_EVENTS)
                    )
                )
            )
        return cls(store, {item_id: path for item_id, path in candidates.items() if item_id not in done})

    def cancel(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def finish(self, console: Console) -> None:
        if self._executor is None:
            return
        if any(not future.done() for future in self.futures.values()):
            console.print("verifying the E01 acquisition hashes (a full read of each image)...")
        try:
            for item_id, future in self.futures.items():
                try:
                    result = future.result()
                except Exception as exc:
                    console.print(
                        f"[yellow]{self.jobs[item_id].name}: the acquisition could not be verified "
                        f"({type(exc).__name__}: {exc}); run the scan again to verify it"
                    )
                    continue
                self._record(item_id, result, console)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _record(self, item_id: int, result: EwfVerification, console: Console) -> None:
        name = self.jobs[item_id].name
        if result.verified is True:
            event = VERIFIED
            line = f"{name}: acquisition verified ({', '.join(sorted(result.metadata.stored))} match)"
            console.print(f"[green]{line}")
        elif result.verified is None:
            event = UNVERIFIABLE
            line = f"{name}: the image stores no acquisition hash; nothing to verify against"
            console.print(f"[yellow]{line}")
        else:
            event = MISMATCH
            reason = result.error or "computed " + ", ".join(
                f"{h}={result.computed[h]} but the image stores {result.metadata.stored[h]}"
                for h in result.mismatches
            )
            line = (
                f"{name}: ACQUISITION HASH MISMATCH: {reason}. The image is not the one acquired, or it is "
                "damaged: compare it with the original acquisition before relying on any finding"
            )
            console.print(f"[bold red]{line}")
        with self.store.transaction() as session:
            item = session.get(EvidenceItem, item_id)
            assert item is not None
            stored = result.metadata.stored
            item.acquisition_md5 = stored.get("md5", item.acquisition_md5)
            item.acquisition_sha1 = stored.get("sha1", item.acquisition_sha1)
            session.add(
                CustodyEvent(
                    evidence_id=item_id,
                    event=event,
                    detail=json.dumps(result.record(), sort_keys=True, ensure_ascii=False),
                    actor="himaya scan",
                )
            )


def record_phone_layouts(store: Store, evidence_ids: list[int]) -> None:
    """Marks evidence whose files are laid out as an Android or iOS extraction."""
    with store.transaction() as session:
        for evidence_id in evidence_ids:
            paths = session.scalars(
                select(File.path)
                .where(File.evidence_id == evidence_id)
                .order_by(File.id)
                .limit(_LAYOUT_SAMPLE)
            )
            layout = detect_layout(paths)
            item = session.get(EvidenceItem, evidence_id)
            if item is not None:
                item.phone_platform = layout.platform if layout else None
