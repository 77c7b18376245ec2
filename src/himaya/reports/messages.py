"""`himaya export CASE --format messages-jsonl`: one JSON object per message of the case's phones.

The fields are the issue's (`app`, `chat`, `chat_type`, `direction`, `sender`, `recipients`, `time_utc`,
`text`, `media_path`, `media_sha256`, `media_present`, `forwarded`, `file_path_in_case`) followed by grown
ones (`case`, `evidence`, `database`, `chat_name`, `sender_name`, `media_mime`, `media_name`,
`link_method`, `matches`). Messages come in time order, undated ones last.
"""

from __future__ import annotations

import json
from typing import TextIO

from himaya.chats.records import message_records
from himaya.hashsets.categories import CategoryMap
from himaya.reports.records import find_case
from himaya.store.db import Store

__all__ = ["export_messages"]


def export_messages(
    store: Store,
    case_number: str,
    out: TextIO,
    *,
    only_matches: bool = False,
    categories: CategoryMap | None = None,
) -> int:
    count = 0
    with store.session() as session:
        case = find_case(session, case_number)
        for record in message_records(session, case, only_matches=only_matches, categories=categories):
            out.write(json.dumps(record.contract(case.number), ensure_ascii=False) + "\n")
            count += 1
    return count
