"""A case's captures as one WARC file: the blobs' records, concatenated in capture order.

Each exchange was stored as its own gzip members, so the concatenation is itself a valid .warc.gz and
every record is byte for byte what was written at capture time (its digests still verify).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy import select

from himaya.errors import UsageError
from himaya.store.blobs import BlobStore
from himaya.store.db import Store
from himaya.store.models import CaptureExchange, OnlineCapture


def write_warc(store: Store, blobs: BlobStore, case_id: int, out: Path, page_url: str | None = None) -> int:
    """Write every exchange of the case's captures (of one page with `page_url`); returns how many."""
    with store.session() as session:
        query = (
            select(OnlineCapture.warcinfo_blob_id, CaptureExchange.blob_id)
            .join(CaptureExchange, CaptureExchange.capture_id == OnlineCapture.id)
            .where(OnlineCapture.case_id == case_id, CaptureExchange.blob_id.is_not(None))
            .order_by(OnlineCapture.id, CaptureExchange.seq)
        )
        if page_url is not None:
            query = query.where(OnlineCapture.page_url == page_url)
        rows = session.execute(query).all()
    if not rows:
        raise UsageError("no captures to write for this case; capture pages with `himaya online capture`")
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written whole or not at all: a half-written WARC would look like a capture that lost records.
    fd, temp = tempfile.mkstemp(prefix=".warc-", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            infos_written: set[str] = set()
            for info_blob, blob_id in rows:
                if info_blob and info_blob not in infos_written:
                    handle.write(blobs.get(info_blob))
                    infos_written.add(info_blob)
                handle.write(blobs.get(blob_id or ""))  # never None: the query asks for it
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return len(rows)
