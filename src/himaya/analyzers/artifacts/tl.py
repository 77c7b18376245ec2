"""Telegram's TL binary serialization, as Telegram for Android keeps it in `cache4.db` blobs.

A bounds-checked reader (`TlReader`) and the few objects Himaya decodes from it: a message's header, text
and media kind, a user's names and phone number, a chat's title. TL is little-endian: a 4-byte constructor
id, then the fields in schema order; a field marked `flags.N?` is present only when bit N of an earlier
`flags` word is set. A `string`/`bytes` is one length byte (< 254) or 0xfe plus 3 length bytes, the data,
then zero padding to a multiple of 4. A `Vector` is 0x1cb5c415, a 4-byte count, then the items.

Each layer of the API changes constructor ids, so only layouts checked against Telegram for Android's
sources are decoded; anything else (an unknown constructor, a truncated or malformed blob) raises
`TlError` and the caller falls back to what the table's columns say. Decoded:

- Message (`decode_message`): message#85d6cbe2 (layer 135), #38116ee0, #76bec211 (adds saved_peer_id),
  #1e4c8a69, #a66c7efc (add from_boosts_applied), and with a second flags word #2357bf25, #bde09c2e,
  #94345242, #96fdbbe9, #eabcdd4d, #9815cec8, #b92f76cf. Read: flags (bit 1 out, 2 fwd_from, 3 reply_to,
  8 from_id, 9 media, 11 via_bot_id, 28 saved_peer_id, 29 from_boosts_applied), flags2 (bit 0
  via_business_bot_id), id, from_id, peer_id, date, message text, and the media's kind. The forward header
  (#4e4df4bb, #5f777dce) and reply header (#6917560b, #afbc09db, #a6d57763) are walked over; a reply that
  quotes media or formatted text (reply header bits 7, 8) is not, and raises `TlError`.
- Media: no attachment for empty, web-page preview, geo point, live location, contact, venue, game, dice
  and poll; a photo (#695150d7) is an attachment of unknown name; a document (#52d8ccd9, #4cf4d72d holding
  document#8fd4c4d8) gives its MIME type, size and, where its attributes can be walked, its file name; any
  other media constructor counts as an attachment of unknown kind.
- Peer: peerUser#59511722, peerChat#36c6019a, peerChannel#a2a5371e (64-bit ids) and their 32-bit
  predecessors #9db1bc6d, #bad0e5bb, #bddde532.
- User (`decode_user`): user#3ff6ecb0, #5d99adee, and with flags2 #8f97c628, #abb5f120, #eb602f25,
  #215c4438, #83314fca, #4b46c37e, #020b1422, #31774388; userEmpty#d3bc4b7a. Read: id, first and last
  name, username, phone, and the `self` flag (bit 10) that marks the phone's own account.
- Chat (`decode_chat`): chat#41cbf256, chatForbidden#6592a1a7, chatEmpty#29562865, channelForbidden#17d493d5
  and channel#94f592db, #1981ea7e, #0aadfc8f, #fe4478bd, #e00998b7, #7482147e, #1c32b11c. Read: id, title,
  and whether it is a channel (supergroups included).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

__all__ = [
    "Attachment",
    "Peer",
    "TlChat",
    "TlError",
    "TlMessage",
    "TlReader",
    "TlUser",
    "decode_chat",
    "decode_message",
    "decode_user",
    "read_peer",
]

T = TypeVar("T")

VECTOR = 0x1CB5C415

PEER_USER = 0x59511722
PEER_CHAT = 0x36C6019A
PEER_CHANNEL = 0xA2A5371E
PEER_USER_INT32 = 0x9DB1BC6D
PEER_CHAT_INT32 = 0xBAD0E5BB
PEER_CHANNEL_INT32 = 0xBDDDE532

FWD_HEADER = 0x4E4DF4BB
FWD_HEADER_OLD = 0x5F777DCE
REPLY_HEADER = 0x6917560B
REPLY_HEADER_QUOTES = 0xAFBC09DB
REPLY_HEADER_OLD = 0xA6D57763

MEDIA_PHOTO = 0x695150D7
MEDIA_DOCUMENT = 0x52D8CCD9
MEDIA_DOCUMENT_ALT = 0x4CF4D72D
DOCUMENT = 0x8FD4C4D8
# Media that is not a file: nothing to find on the phone or to match against a hash set.
NOT_ATTACHMENTS = frozenset(
    {
        0x3DED6320,  # messageMediaEmpty (Telegram for Android gives sent text messages one)
        0xDDF10C3B,  # messageMediaWebPage
        0xA32DD600,  # messageMediaWebPage, before its flags word
        0x56E0D474,  # messageMediaGeo
        0xB940C666,  # messageMediaGeoLive
        0x70322949,  # messageMediaContact
        0x2EC0533F,  # messageMediaVenue
        0xFDB19008,  # messageMediaGame
        0x3F7EE58B,  # messageMediaDice
        0x4BD6E798,  # messageMediaPoll
    }
)

PHOTO_SIZE_EMPTY = 0x0E17E23C
PHOTO_SIZE = 0x75C78E60
PHOTO_CACHED_SIZE = 0x021E1AD6
PHOTO_STRIPPED_SIZE = 0xE0B0BC2E
PHOTO_SIZE_PROGRESSIVE = 0xFA3EFB95
PHOTO_PATH_SIZE = 0xD8214D41

ATTRIBUTE_FILENAME = 0x15590068
ATTRIBUTE_IMAGE_SIZE = 0x6C37C15C
ATTRIBUTE_ANIMATED = 0x11B58939
ATTRIBUTE_HAS_STICKERS = 0x9801D2F7
ATTRIBUTE_VIDEO = 0x43C57C48
ATTRIBUTE_AUDIO = 0x9852F9C6

USER_EMPTY = 0xD3BC4B7A
USERS_WITHOUT_FLAGS2 = frozenset({0x3FF6ECB0, 0x5D99ADEE})
USERS_WITH_FLAGS2 = frozenset(
    {0x8F97C628, 0xABB5F120, 0xEB602F25, 0x215C4438, 0x83314FCA, 0x4B46C37E, 0x020B1422, 0x31774388}
)

CHAT = 0x41CBF256
CHAT_FORBIDDEN = 0x6592A1A7
CHAT_EMPTY = 0x29562865
CHANNEL_FORBIDDEN = 0x17D493D5
CHANNELS = frozenset({0x94F592DB, 0x1981EA7E, 0x0AADFC8F, 0xFE4478BD, 0xE00998B7, 0x7482147E, 0x1C32B11C})


@dataclass(frozen=True)
class _MessageLayout:
    flags2: bool  # a second flags word follows the first
    saved_peer: bool  # flags.28 saved_peer_id exists in this layer
    boosts: bool  # flags.29 from_boosts_applied exists in this layer


_OLD = _MessageLayout(flags2=False, saved_peer=False, boosts=False)
_NEW = _MessageLayout(flags2=True, saved_peer=True, boosts=True)
MESSAGE_LAYOUTS: dict[int, _MessageLayout] = {
    0x85D6CBE2: _OLD,
    0x38116EE0: _OLD,
    0x76BEC211: _MessageLayout(flags2=False, saved_peer=True, boosts=False),
    0x1E4C8A69: _MessageLayout(flags2=False, saved_peer=True, boosts=True),
    0xA66C7EFC: _MessageLayout(flags2=False, saved_peer=True, boosts=True),
    0x2357BF25: _NEW,
    0xBDE09C2E: _NEW,
    0x94345242: _NEW,
    0x96FDBBE9: _NEW,
    0xEABCDD4D: _NEW,
    0x9815CEC8: _NEW,
    0xB92F76CF: _NEW,
}

_I32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")


class TlError(ValueError):
    """A blob that is truncated or malformed, or uses a constructor this module does not decode."""


class TlReader:
    """Reads TL values from `data` in order; every read checks bounds and raises `TlError` past the end."""

    __slots__ = ("_data", "_end", "_pos")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self._end = len(data)

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def _advance(self, count: int) -> int:
        start = self._pos
        if count > self._end - start:
            raise TlError(f"truncated: {count} bytes wanted at offset {start}, {self._end - start} left")
        self._pos = start + count
        return start

    def _unpack(self, form: struct.Struct) -> int:
        # One call per integer: these reads are most of a message's decoding time.
        start = self._pos
        try:
            value = form.unpack_from(self._data, start)[0]
        except struct.error:
            raise TlError(f"truncated: {form.size} bytes wanted at offset {start}") from None
        self._pos = start + form.size
        return int(value)

    def skip(self, count: int) -> None:
        self._advance(count)

    def int32(self) -> int:
        return self._unpack(_I32)

    def uint32(self) -> int:
        return self._unpack(_U32)

    def int64(self) -> int:
        return self._unpack(_I64)

    def blob(self) -> bytes:
        """A TL `bytes` value."""
        first = self._data[self._advance(1)]
        if first >= 254:  # Telegram for Android reads 255 as 254 too
            at = self._advance(3)
            length = int.from_bytes(self._data[at : at + 3], "little")
            header = 4
        else:
            length, header = first, 1
        start = self._advance(length)
        self._advance(-(header + length) % 4)
        return bytes(self._data[start : start + length])

    def string(self) -> str:
        """A TL `string`: UTF-8, with undecodable bytes replaced rather than refused."""
        return self.blob().decode("utf-8", errors="replace")

    def vector(self, read_item: Callable[[TlReader], T]) -> list[T]:
        return [read_item(self) for _ in range(self.vector_count())]

    def vector_count(self) -> int:
        """Reads a vector's header; the count is checked against the bytes left (items take 4 at least)."""
        constructor = self.uint32()
        if constructor != VECTOR:
            raise TlError(f"expected a vector, found constructor {constructor:#010x}")
        count = self.uint32()
        if count * 4 > self.remaining:
            raise TlError(f"vector of {count} items cannot fit in the {self.remaining} bytes left")
        return count


PeerKind = Literal["user", "chat", "channel"]


@dataclass(frozen=True)
class Peer:
    kind: PeerKind
    id: int


def read_peer(reader: TlReader) -> Peer:
    constructor = reader.uint32()
    if constructor == PEER_USER:
        return Peer("user", reader.int64())
    if constructor == PEER_CHAT:
        return Peer("chat", reader.int64())
    if constructor == PEER_CHANNEL:
        return Peer("channel", reader.int64())
    if constructor == PEER_USER_INT32:
        return Peer("user", reader.int32())
    if constructor == PEER_CHAT_INT32:
        return Peer("chat", reader.int32())
    if constructor == PEER_CHANNEL_INT32:
        return Peer("channel", reader.int32())
    raise TlError(f"unknown Peer constructor {constructor:#010x}")


@dataclass(frozen=True)
class Attachment:
    """A message's file, as far as the blob describes it (Telegram keeps no decodable path here)."""

    kind: Literal["photo", "document", "other"]
    mime: str | None = None
    size: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class TlMessage:
    id: int
    out: bool
    from_id: Peer | None
    peer_id: Peer
    forwarded: bool
    date: int
    text: str
    media: Attachment | None


def decode_message(data: bytes) -> TlMessage:
    """The header, text and media kind of a TL Message; `TlError` for anything this module cannot read."""
    reader = TlReader(data)
    constructor = reader.uint32()
    layout = MESSAGE_LAYOUTS.get(constructor)
    if layout is None:
        raise TlError(f"message constructor {constructor:#010x} is not decoded")
    flags = reader.uint32()
    flags2 = reader.uint32() if layout.flags2 else 0
    message_id = reader.int32()
    from_id = read_peer(reader) if flags & (1 << 8) else None
    if layout.boosts and flags & (1 << 29):
        reader.skip(4)
    peer_id = read_peer(reader)
    if layout.saved_peer and flags & (1 << 28):
        read_peer(reader)
    if flags & (1 << 2):
        _skip_fwd_header(reader)
    if flags & (1 << 11):
        reader.skip(8)  # via_bot_id
    if flags2 & 1:
        reader.skip(8)  # via_business_bot_id
    if flags & (1 << 3):
        _skip_reply_header(reader)
    date = reader.int32()
    text = reader.string()
    media = _read_media(reader) if flags & (1 << 9) else None
    return TlMessage(
        id=message_id,
        out=bool(flags & (1 << 1)),
        from_id=from_id,
        peer_id=peer_id,
        forwarded=bool(flags & (1 << 2)),
        date=date,
        text=text,
        media=media,
    )


def _skip_fwd_header(reader: TlReader) -> None:
    constructor = reader.uint32()
    if constructor not in (FWD_HEADER, FWD_HEADER_OLD):
        raise TlError(f"forward header constructor {constructor:#010x} is not decoded")
    flags = reader.uint32()
    if flags & 1:
        read_peer(reader)  # from_id
    if flags & (1 << 5):
        reader.blob()  # from_name
    reader.skip(4)  # date
    if flags & (1 << 2):
        reader.skip(4)  # channel_post
    if flags & (1 << 3):
        reader.blob()  # post_author
    if flags & (1 << 4):
        read_peer(reader)  # saved_from_peer
        reader.skip(4)  # saved_from_msg_id
    if flags & (1 << 8):
        read_peer(reader)  # saved_from_id
    if flags & (1 << 9):
        reader.blob()  # saved_from_name
    if flags & (1 << 10):
        reader.skip(4)  # saved_date
    if flags & (1 << 6):
        reader.blob()  # psa_type


def _skip_reply_header(reader: TlReader) -> None:
    constructor = reader.uint32()
    flags = reader.uint32()
    if constructor == REPLY_HEADER_OLD:
        reader.skip(4)  # reply_to_msg_id
        if flags & 1:
            read_peer(reader)
        if flags & (1 << 1):
            reader.skip(4)  # reply_to_top_id
        return
    if constructor not in (REPLY_HEADER, REPLY_HEADER_QUOTES):
        raise TlError(f"reply header constructor {constructor:#010x} is not decoded")
    if flags & ((1 << 7) | (1 << 8)):
        raise TlError("a reply quoting media or formatted text is not decoded")
    if flags & (1 << 4):
        reader.skip(4)  # reply_to_msg_id
    if flags & 1:
        read_peer(reader)  # reply_to_peer_id
    if flags & (1 << 5):
        _skip_fwd_header(reader)  # reply_from
    if flags & (1 << 1):
        reader.skip(4)  # reply_to_top_id
    if flags & (1 << 6):
        reader.blob()  # quote_text
    if flags & (1 << 10):
        reader.skip(4)  # quote_offset
    if flags & (1 << 11):
        reader.skip(4)  # todo_item_id


def _read_media(reader: TlReader) -> Attachment | None:
    constructor = reader.uint32()
    if constructor in NOT_ATTACHMENTS:
        return None
    if constructor == MEDIA_PHOTO:
        return Attachment("photo")
    if constructor in (MEDIA_DOCUMENT, MEDIA_DOCUMENT_ALT):
        try:
            return _read_document(reader)
        except TlError:
            return Attachment("document")
    return Attachment("other")


def _read_document(reader: TlReader) -> Attachment:
    if not reader.uint32() & 1:  # messageMediaDocument.flags: bit 0 document
        return Attachment("document")
    if reader.uint32() != DOCUMENT:
        return Attachment("document")
    flags = reader.uint32()
    reader.skip(16)  # id, access_hash
    reader.blob()  # file_reference
    reader.skip(4)  # date
    mime = reader.string() or None
    size = reader.int64()
    try:
        name = _read_file_name(reader, flags)
    except TlError:
        name = None
    return Attachment("document", mime=mime, size=size if size >= 0 else None, name=name)


def _read_file_name(reader: TlReader, flags: int) -> str | None:
    if flags & 1:
        reader.vector(_skip_photo_size)  # thumbs
    if flags & (1 << 1):
        raise TlError("video thumbnails are not decoded")
    reader.skip(4)  # dc_id
    for _ in range(reader.vector_count()):
        constructor = reader.uint32()
        if constructor == ATTRIBUTE_FILENAME:
            return reader.string() or None
        if constructor == ATTRIBUTE_IMAGE_SIZE:
            reader.skip(8)
        elif constructor == ATTRIBUTE_VIDEO:
            video_flags = reader.uint32()
            reader.skip(16)  # duration (double), w, h
            if video_flags & (1 << 2):
                reader.skip(4)  # preload_prefix_size
            if video_flags & (1 << 4):
                reader.skip(8)  # video_start_ts
            if video_flags & (1 << 5):
                reader.blob()  # video_codec
        elif constructor == ATTRIBUTE_AUDIO:
            audio_flags = reader.uint32()
            reader.skip(4)  # duration
            for bit in (0, 1, 2):  # title, performer, waveform
                if audio_flags & (1 << bit):
                    reader.blob()
        elif constructor not in (ATTRIBUTE_ANIMATED, ATTRIBUTE_HAS_STICKERS):
            raise TlError(f"document attribute {constructor:#010x} is not decoded")
    return None


def _skip_photo_size(reader: TlReader) -> None:
    constructor = reader.uint32()
    reader.blob()  # type
    if constructor == PHOTO_SIZE:
        reader.skip(12)
    elif constructor == PHOTO_CACHED_SIZE:
        reader.skip(8)
        reader.blob()
    elif constructor in (PHOTO_STRIPPED_SIZE, PHOTO_PATH_SIZE):
        reader.blob()
    elif constructor == PHOTO_SIZE_PROGRESSIVE:
        reader.skip(8)
        reader.skip(4 * reader.vector_count())
    elif constructor != PHOTO_SIZE_EMPTY:
        raise TlError(f"photo size constructor {constructor:#010x} is not decoded")


@dataclass(frozen=True)
class TlUser:
    id: int
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    phone: str | None = None
    is_self: bool = False  # the account signed in on this phone


def decode_user(data: bytes) -> TlUser:
    reader = TlReader(data)
    constructor = reader.uint32()
    if constructor == USER_EMPTY:
        return TlUser(reader.int64())
    if constructor not in USERS_WITH_FLAGS2 and constructor not in USERS_WITHOUT_FLAGS2:
        raise TlError(f"user constructor {constructor:#010x} is not decoded")
    flags = reader.uint32()
    if constructor in USERS_WITH_FLAGS2:
        reader.skip(4)
    user_id = reader.int64()
    if flags & 1:
        reader.skip(8)  # access_hash
    # first_name, last_name, username, phone: flags bits 1-4, in that order
    first, last, username, phone = [reader.string() if flags & (1 << bit) else None for bit in (1, 2, 3, 4)]
    return TlUser(user_id, first, last, username, phone, is_self=bool(flags & (1 << 10)))


@dataclass(frozen=True)
class TlChat:
    id: int
    title: str | None
    is_channel: bool  # a broadcast channel or a supergroup (dialog ids of both are `-id`, like groups)


def decode_chat(data: bytes) -> TlChat:
    reader = TlReader(data)
    constructor = reader.uint32()
    if constructor == CHAT_EMPTY:
        return TlChat(reader.int64(), None, is_channel=False)
    if constructor == CHAT_FORBIDDEN:
        return TlChat(reader.int64(), reader.string(), is_channel=False)
    if constructor == CHAT:
        reader.skip(4)  # flags
        return TlChat(reader.int64(), reader.string(), is_channel=False)
    if constructor == CHANNEL_FORBIDDEN:
        reader.skip(4)  # flags
        chat_id = reader.int64()
        reader.skip(8)  # access_hash
        return TlChat(chat_id, reader.string(), is_channel=True)
    if constructor in CHANNELS:
        flags = reader.uint32()
        reader.skip(4)  # flags2
        chat_id = reader.int64()
        if flags & (1 << 13):
            reader.skip(8)  # access_hash
        return TlChat(chat_id, reader.string(), is_channel=True)
    raise TlError(f"chat constructor {constructor:#010x} is not decoded")
