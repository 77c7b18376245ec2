"""Attribution: tips, referrals and logs → who did what, from which address, when.

Readers (bytes in, plain dataclasses out; nothing here touches the database):

- `reports.py`   what every reader returns: TipReport, Person, Identifier, ReportedFile, IpEvent
- `normalise.py` one written form for IP addresses, times (to UTC, zones never guessed) and identifiers
- `cybertip.py`  CyberTipline-style reports, XML (defusedxml, no DTDs) and the same tree as JSON
- `logs.py`      platform upload logs (CSV, JSON, JSON lines) and web-server access logs
- `detect.py`    the format of a file by its content, and `read_tips` that reads any of them

A malformed file is refused whole, naming the line, XML element path or JSON pointer: never half-read.
`importer.py` stores what the readers return; `summary.py` reads it back per IP, account and person;
`requests.py` drafts what the unit asks of each ISP (or refers abroad) from that summary, and
`documents.py` renders those requests as HTML and PDF (WeasyPrint, no fetching), English or Arabic.
"""
