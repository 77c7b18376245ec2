"""Time-to-removal statistics: nearest-rank percentiles, from the first notice, per host and overall."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from himaya.online.stats import percentile, statistics
from himaya.store.db import Store, open_store
from himaya.store.models import Case, OnlineLocation, utcnow


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    opened = open_store(himaya_env["home"])
    yield opened
    opened.close()


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 90) == 5.0
    assert percentile([1, 2, 3, 4], 50) == 2
    assert percentile(list(range(1, 11)), 90) == 9


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50), st.integers(0, 100))
def test_a_percentile_is_one_of_the_values(values: list[float], p: int) -> None:
    result = percentile(values, p)
    assert result in values
    assert min(values) <= result <= max(values)  # type: ignore[operator]


def test_hours_count_from_the_first_notice_and_unnotified_removals_apart(store: Store) -> None:
    now = utcnow()
    with store.transaction() as session:
        case = Case(number="TEST-STATS")
        session.add(case)
        session.flush()

        def add(
            url: str, host: str, notified_h: float | None, removed_h: float | None, **extra: object
        ) -> None:
            session.add(
                OnlineLocation(
                    case_id=case.id,
                    url=url,
                    host=host,
                    status="removed" if removed_h is not None else "online",
                    first_seen_at=now - timedelta(hours=100),
                    notified_at=now - timedelta(hours=notified_h) if notified_h is not None else None,
                    removed_at=now - timedelta(hours=removed_h) if removed_h is not None else None,
                    checks=0,
                    **extra,
                )
            )

        add("http://a.test/1", "a.test", 50, 40)  # 10 h after the notice
        add("http://a.test/2", "a.test", 50, 20)  # 30 h
        add("http://b.test/1", "b.test", 50, 0)  # 50 h
        add("http://b.test/2", "b.test", None, 90)  # gone before any notice: 10 h after first seen
        add("http://b.test/3", "b.test", 10, None, sha256="ab" * 32)  # still online
    with store.session() as session:
        record = statistics(session, "TEST-STATS")
    overall = record["overall"]
    assert (overall["locations"], overall["open"], overall["removed_after_notice"]) == (5, 1, 3)
    assert overall["median_hours_to_removal"] == pytest.approx(30, abs=0.01)
    assert overall["p90_hours_to_removal"] == pytest.approx(50, abs=0.01)
    assert overall["removed_before_notice"] == 1
    assert overall["median_hours_to_removal_unnotified"] == pytest.approx(10, abs=0.01)
    assert record["hosts"]["a.test"]["median_hours_to_removal"] == pytest.approx(10, abs=0.01)
    assert record["hosts"]["b.test"]["open"] == 1
    assert record["statuses"] == {"removed": 4, "online": 1}
