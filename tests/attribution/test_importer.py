"""`himaya tips import` and `himaya tips summary` end to end: the contract an outside checker relies on.

Reports and logs are the TEST builders' (tests/builders/tips.py); the IP database is the tests' .mmdb.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.builders.mmdb import build_test_mmdb
from tests.builders.tips import (
    NOISE_IPS,
    SUSPECT_ACCOUNT,
    SUSPECT_IP,
    cybertip_json,
    cybertip_xml,
    md5_of,
    sample_report,
    six_hundred_uploads,
    upload_log_csv,
    upload_row,
)
from tests.cli.test_cli import Cli, himaya  # noqa: F401 - the command-line fixture

CASE = "TEST-TIPS-1"


@pytest.fixture
def case(himaya: Cli, tmp_path: Path) -> Path:  # noqa: F811
    assert himaya("case", "create", CASE).code == 0
    mmdb = build_test_mmdb(
        tmp_path / "TEST.mmdb",
        [
            (
                "203.0.113.0/24",
                {
                    "autonomous_system_number": 64520,
                    "autonomous_system_organization": "TEST Home Broadband",
                    "country": {"iso_code": "JO"},
                },
            ),
            (
                "192.0.2.0/24",
                {
                    "autonomous_system_number": 64521,
                    "autonomous_system_organization": "TEST Cloud Hosting",
                    "country": {"iso_code": "NL"},
                },
            ),
            (
                "100.64.0.0/10",
                {
                    "autonomous_system_number": 64522,
                    "autonomous_system_organization": "TEST Mobile",
                    "country": {"iso_code": "JO"},
                },
            ),
        ],
    )
    for key, value in [("online.mmdb", str(mmdb)), ("online.unit_country", "JO")]:
        assert himaya("online", "settings", key, value).code == 0
    return tmp_path


def _summary(himaya: Cli) -> dict[str, Any]:  # noqa: F811
    outcome = himaya("tips", "summary", CASE, "--format", "json")
    assert outcome.code == 0, outcome.text
    return json.loads(outcome.out)  # type: ignore[no-any-return]


def test_six_hundred_uploads_from_one_ip_with_the_isp_and_matches(
    himaya: Cli,  # noqa: F811
    case: Path,
) -> None:
    log = case / "TEST-uploads.csv"
    log.write_bytes(six_hundred_uploads())
    known = case / "TEST-known.txt"
    known.write_text("".join(f"{md5_of(f'suspect {i}')}\n" for i in range(0, 1500, 5)))  # 300 of the 600
    assert himaya("hashset", "import", str(known), "--name", "TEST-known", "--kind", "alert").code == 0
    outcome = himaya("tips", "import", CASE, str(log))
    assert outcome.code == 0, outcome.text
    assert "1,500 IP events" in outcome.text
    listed = himaya("audit", "list", "--action", "tips_imported")
    assert listed.code == 0 and "TEST-uploads.csv" in listed.out
    record = _summary(himaya)
    top = record["ips"][0]
    assert (top["ip"], top["events"], top["uploads"], top["matched"]) == (SUSPECT_IP, 600, 600, 300)
    assert (top["asn"], top["org"], top["country"]) == (64520, "TEST Home Broadband", "JO")
    assert top["flags"] == [] and len(top["ports"]) == 600
    assert top["first_utc"] == "2026-03-20T08:00:00Z" and top["first_utc"] < top["last_utc"]
    assert top["ipdb_built_utc"] is not None
    noise = {ip["ip"]: ip for ip in record["ips"][1:]}
    assert set(noise) == set(NOISE_IPS)
    assert noise["192.0.2.10"]["flags"] == ["hosting", "abroad"]
    assert all(e["time_utc"].endswith("Z") for e in record["events"])
    [suspect] = [a for a in record["accounts"] if a["account"] == SUSPECT_ACCOUNT]
    assert (suspect["uploads"], suspect["matched"], suspect["ips"]) == (600, 300, [SUSPECT_IP])
    text = himaya("tips", "summary", CASE).out
    assert f"IP {SUSPECT_IP} published 600 items (300 matched as known material) between" in text


def test_the_same_report_from_two_sources_is_merged_and_both_sources_kept(
    himaya: Cli,  # noqa: F811
    case: Path,
) -> None:
    (case / "TEST-1001.xml").write_bytes(cybertip_xml(sample_report()))
    (case / "TEST-1001.json").write_bytes(cybertip_json(sample_report()))
    outcome = himaya("tips", "import", CASE, str(case / "TEST-1001.xml"), str(case / "TEST-1001.json"))
    assert outcome.code == 0, outcome.text
    record = _summary(himaya)
    assert record["reports"] == 2
    login = [e for e in record["events"] if e["ip"] == SUSPECT_IP and e["event"] == "Login"]
    assert len(login) == 1 and len(login[0]["sources"]) == 2  # one event, both sources on record
    assert login[0]["port"] == 51234
    assert any(e["ip"] == "2001:db8::1" for e in record["events"])  # canonical IPv6
    suspect = [p for p in record["persons"] if SUSPECT_ACCOUNT in p["accounts"]]
    assert len(suspect) == 1 and suspect[0]["reports"] == 2
    assert "test-user-17@example.org" in suspect[0]["identifiers"]
    # Imported again: nothing new.
    again = himaya("tips", "import", CASE, str(case / "TEST-1001.xml"))
    assert again.code == 0 and "(1 imported before)" in again.text
    assert _summary(himaya)["reports"] == 2


def test_a_shared_address_without_a_port_is_flagged(himaya: Cli, case: Path) -> None:  # noqa: F811
    rows = [
        upload_row("100.64.3.7", "2026-03-20T10:00:00+03:00", port=40001, seed="a"),
        upload_row("100.64.3.8", "2026-03-20T10:05:00+03:00", port=None, seed="b"),
    ]
    (case / "TEST-cgnat.csv").write_bytes(upload_log_csv(rows))
    assert himaya("tips", "import", CASE, str(case / "TEST-cgnat.csv")).code == 0
    flags = {ip["ip"]: ip["flags"] for ip in _summary(himaya)["ips"]}
    assert flags == {"100.64.3.7": [], "100.64.3.8": ["shared-address-no-port"]}


def test_a_refused_file_imports_nothing_and_exits_1(himaya: Cli, case: Path) -> None:  # noqa: F811
    good = case / "TEST-good.csv"
    good.write_bytes(upload_log_csv([upload_row(SUSPECT_IP, "2026-03-20T10:00:00Z", port=1, seed="g")]))
    rows = [upload_row(SUSPECT_IP, f"2026-03-20T10:{m:02d}:00Z", port=m, seed=f"x{m}") for m in range(50)]
    rows[30]["ip"] = "999.1.1.1"
    bad = case / "TEST-bad.csv"
    bad.write_bytes(upload_log_csv(rows))
    outcome = himaya("tips", "import", CASE, str(good), str(bad))
    assert outcome.code == 1
    assert "TEST-bad.csv" in outcome.text and "32" in outcome.text  # line 32: header + 31st row
    record = _summary(himaya)
    assert (record["reports"], record["events"]) == (0, [])  # not even the good file


def test_a_log_without_zone_needs_one_and_applies_daylight_saving(
    himaya: Cli,  # noqa: F811
    case: Path,
) -> None:
    rows = [
        upload_row(SUSPECT_IP, "2026-03-29 00:30:00", port=1, seed="before"),  # GMT
        upload_row(SUSPECT_IP, "2026-03-29 02:30:00", port=2, seed="after"),  # BST (UTC+1)
    ]
    (case / "TEST-london.csv").write_bytes(upload_log_csv(rows))
    refused = himaya("tips", "import", CASE, str(case / "TEST-london.csv"))
    assert refused.code != 0 and "--timezone" in refused.text
    outcome = himaya("tips", "import", CASE, str(case / "TEST-london.csv"), "--timezone", "Europe/London")
    assert outcome.code == 0, outcome.text
    times = sorted(e["time_utc"] for e in _summary(himaya)["events"])
    assert times == ["2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z"]
