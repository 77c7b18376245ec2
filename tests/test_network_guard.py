"""The guard itself must work, or every other test's promise of "no outbound packet" is empty."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.conftest import OutboundConnectionBlocked


def test_connect_outside_loopback_is_refused_before_any_packet() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s, pytest.raises(OutboundConnectionBlocked):
        s.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed, and still refused by the guard


def test_loopback_canary_still_reaches_a_local_server() -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    accepted: list[bool] = []

    def accept() -> None:
        conn, _ = server.accept()
        accepted.append(True)
        conn.close()

    thread = threading.Thread(target=accept)
    thread.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    thread.join(timeout=5)
    server.close()
    assert accepted == [True]
