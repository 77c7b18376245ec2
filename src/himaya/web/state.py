"""What every request of the app shares: the store, the blob store and the keys derived for the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from himaya.hashsets.categories import CategoryMap
from himaya.security.audit import AuditTrail
from himaya.security.auth import csrf_key
from himaya.store.blobs import BlobStore
from himaya.store.db import Store
from himaya.store.models import Setting

# How long a revealed picture may be fetched in clear after its reveal, and the exposure counted for a
# reveal the page never reported hidden (a closed tab): a reviewer is never shown more than asked for.
REVEAL_FETCH_WINDOW_S = 120
REVEAL_UNREPORTED_CAP_S = 60.0


@dataclass
class WebState:
    store: Store
    blobs: BlobStore
    blob_key: bytes = field(repr=False)
    audit: AuditTrail
    home: Path
    secure_cookies: bool = False  # set under TLS (--certfile) or behind a TLS-terminating proxy
    national_set: str = "NATIONAL"  # the unit's own alert hash set that confirmed proposals go to
    categories: CategoryMap = field(default_factory=CategoryMap.default)
    csrf_key: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.csrf_key = csrf_key(self.blob_key)

    def load_settings(self, national_set: str | None = None) -> None:
        """Settings changed in the app (stored) apply; a command-line option overrides them."""
        with self.store.session() as session:
            stored = session.get(Setting, "national_set")
        if national_set:
            self.national_set = national_set
        elif stored is not None:
            self.national_set = stored.value
