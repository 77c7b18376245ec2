"""Re-checks inside `himaya serve`: every online.scheduler_minutes, the due locations are re-checked.

Same work as `himaya online recheck` from cron; one run at a time. The settings are read afresh at
every round, so turning online.scheduler off (or changing the interval) needs no restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from himaya.online.recheck import recheck
from himaya.online.service import load_settings
from himaya.store.db import Store

log = logging.getLogger(__name__)
ACTOR = "scheduler"


class RecheckScheduler:
    def __init__(
        self, store: Store, *, forced: bool | None = None, allow_networks: Sequence[str] = ()
    ) -> None:
        self.store = store
        self.forced = forced  # the serve option; None: the setting online.scheduler decides
        self.allow_networks = tuple(allow_networks)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rounds = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="recheck-scheduler", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run_once(self) -> int:
        """One round: re-check what is due; returns how many locations were checked."""
        from himaya.online.capture import make_fetcher

        settings = load_settings(self.store)
        enabled = settings.scheduler if self.forced is None else self.forced
        if not enabled:
            return 0
        with make_fetcher(settings, self.allow_networks) as fetcher:
            summary = recheck(self.store, fetcher, settings, actor=ACTOR, quiet=True)
        self.rounds += 1
        if summary.checked:
            log.warning(
                "re-checked %d locations: %d still online, %d removed, %d not judged, %d follow-ups",
                summary.checked,
                summary.online,
                summary.removed,
                summary.errors,
                summary.follow_ups,
            )
        return summary.checked

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a round that fails is logged; the next round tries again
                log.exception("scheduled re-check failed")
            minutes = load_settings(self.store).scheduler_minutes
            self._stop.wait(max(minutes, 0.05) * 60)
