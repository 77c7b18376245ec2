"""A large synthetic WhatsApp for Android msgstore.db (current layout) for parser and linking benchmarks.

    .venv/bin/python bench/make_msgstore.py --out /tmp/msgstore.db [--messages 1000000] [--media 200000]
        [--chats 2000] [--seed 7]

The tables are the test builder's (`tests.builders.chats.whatsapp_android.CURRENT_SCHEMA`, WhatsApp
2.23.x), filled with made-up rows: one chat in ten is a group of 5-30 members (the owner listed with an
empty JID, as WhatsApp does), a message in 200 is a system message, one in 100 is forwarded, and `--media`
messages carry a picture ("Media/WhatsApp Images/[Sent/]IMG-<date>-WA<n>.jpg", a random base64 SHA-256;
no files are written). Rows go in with executemany in one transaction, journal and sync off.
"""

from __future__ import annotations

import argparse
import base64
import random
import sqlite3
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))  # tests.builders: the schema is the test fixtures'

from tests.builders.chats.whatsapp_android import CURRENT_SCHEMA  # noqa: E402

START = datetime(2022, 1, 1, tzinfo=UTC)
WORDS = ("board", "clock", "move", "pawn", "knight", "bishop", "rook", "queen", "king", "club", "tonight")
MESSAGE_COLUMNS = (
    "_id, chat_row_id, from_me, key_id, sender_jid_row_id, status, broadcast, recipient_count, "
    "origination_flags, origin, timestamp, received_timestamp, receipt_server_timestamp, message_type, "
    "text_data, starred, lookup_tables, sort_id, message_add_on_flags, view_mode"
)
MEDIA_COLUMNS = (
    "message_row_id, chat_row_id, transferred, file_path, file_size, width, height, mime_type, file_length, "
    "file_hash, enc_file_hash, media_caption"
)


def build(out: Path, messages: int, media: int, chats: int, seed: int) -> None:
    rng = random.Random(seed)
    groups = max(1, chats // 10)
    directs = chats - groups
    people = directs + 500  # group members who are not also direct contacts
    owner_jid, first_person, first_group = 1, 2, 2 + people
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    db = sqlite3.connect(out, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.executescript(CURRENT_SCHEMA)
    db.execute("BEGIN")
    db.execute("INSERT INTO jid VALUES (?, '', 's.whatsapp.net', 0, 0, 0, NULL)", (owner_jid,))
    db.executemany(
        "INSERT INTO jid VALUES (?, ?, 's.whatsapp.net', 0, 0, 0, ?)",
        ((first_person + n, f"96279{n:07d}", f"96279{n:07d}@s.whatsapp.net") for n in range(people)),
    )
    db.executemany(
        "INSERT INTO jid VALUES (?, ?, 'g.us', 0, 0, 1, ?)",
        ((first_group + n, f"1203630{n:011d}", f"1203630{n:011d}@g.us") for n in range(groups)),
    )
    # chat _id n+1: the first `directs` chats are direct, the rest groups
    chat_rows = [(n + 1, first_person + n, None) for n in range(directs)]
    chat_rows += [(directs + n + 1, first_group + n, f"Group {n}") for n in range(groups)]
    db.executemany("INSERT INTO chat (_id, jid_row_id, subject) VALUES (?, ?, ?)", chat_rows)
    members: dict[int, list[int]] = {}
    participant_rows = []
    for n in range(groups):
        chosen = rng.sample(range(first_person, first_person + people), rng.randint(5, 30))
        members[directs + n + 1] = chosen
        participant_rows.append((first_group + n, owner_jid))
        participant_rows += [(first_group + n, member) for member in chosen]
    db.executemany(
        "INSERT INTO group_participant_user (group_jid_row_id, user_jid_row_id, rank, pending) "
        "VALUES (?, ?, 0, 0)",
        participant_rows,
    )

    with_media = set(rng.sample(range(messages), min(media, messages)))
    media_rows: list[tuple[object, ...]] = []
    forwarded_rows: list[tuple[int, int]] = []
    system_rows: list[tuple[int, int]] = []

    def rows() -> Iterator[tuple[object, ...]]:
        moment = int(START.timestamp() * 1000)
        for n in range(messages):
            row_id = n + 1
            chat = rng.randint(1, chats)
            moment += rng.randint(1, 60_000)
            from_me = 1 if rng.random() < 0.4 else 0
            group = chat > directs
            sender = rng.choice(members[chat]) if group and not from_me else 0
            kind, text, caption = 0, " ".join(rng.choices(WORDS, k=rng.randint(1, 8))), None
            if n in with_media:
                kind = 1
                text = None if rng.random() < 0.7 else text
                day = datetime.fromtimestamp(moment / 1000, UTC).strftime("%Y%m%d")
                folder = "Media/WhatsApp Images/Sent" if from_me else "Media/WhatsApp Images"
                size = rng.randint(20_000, 400_000)
                path = f"{folder}/IMG-{day}-WA{n % 10000:04d}.jpg"
                file_hash = base64.b64encode(rng.randbytes(32)).decode()
                enc_hash = base64.b64encode(rng.randbytes(32)).decode()
                media_rows.append(
                    (row_id, chat, 1, path, size, 1280, 960, "image/jpeg", size, file_hash, enc_hash, caption)
                )
            elif rng.random() < 0.005:
                kind, text = 7, None
                system_rows.append((row_id, 12))
            if rng.random() < 0.01:
                forwarded_rows.append((row_id, 1))
            status = 13 if from_me else 0
            key = f"3EB0{row_id:012X}"
            head = (
                row_id,
                chat,
                from_me,
                key,
                sender,
                status,
                0,
                0,
                0,
                0,
                moment,
                moment + 1500,
                -1,
                kind,
                text,
            )
            yield (*head, 0, 0, row_id, 0, 0)  # starred, lookup_tables, sort_id, add-on flags, view_mode

    db.executemany(f"INSERT INTO message ({MESSAGE_COLUMNS}) VALUES ({', '.join('?' * 20)})", rows())
    db.executemany(f"INSERT INTO message_media ({MEDIA_COLUMNS}) VALUES ({', '.join('?' * 12)})", media_rows)
    db.executemany("INSERT INTO message_forwarded VALUES (?, ?)", forwarded_rows)
    db.executemany("INSERT INTO message_system VALUES (?, ?)", system_rows)
    db.execute("COMMIT")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--media", type=int, default=200_000)
    parser.add_argument("--chats", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.chats < 2:
        parser.error("--chats must be at least 2 (one direct chat and one group)")
    started = time.monotonic()
    build(args.out, args.messages, args.media, args.chats, args.seed)
    took = time.monotonic() - started
    mib = args.out.stat().st_size / 2**20
    print(
        f"{args.out}: {args.messages} messages, {min(args.media, args.messages)} with media, "
        f"{args.chats} chats written in {took:.1f} s ({mib:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
