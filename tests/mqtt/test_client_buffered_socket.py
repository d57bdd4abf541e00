"""The paho socket wrapper that reads in large chunks (camaudit.mqtt.client.BufferedSocket)."""

from __future__ import annotations

import socket

import pytest

from camaudit.mqtt.client import BufferedSocket


def test_small_reads_come_from_one_chunk_and_pending_counts_them() -> None:
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        s = BufferedSocket(a)
        b.sendall(b"\x30\x05hello" + b"\x40\x02\x00\x01")  # a PUBLISH-like and a PUBACK-like packet
        assert s.pending() == 0  # nothing read from the kernel yet
        assert s.recv(1) == b"\x30"
        assert s.pending() == 10  # the rest of the chunk is buffered
        assert s.recv(1) == b"\x05"
        assert s.recv(5) == b"hello"
        assert s.recv(100) == b"\x40\x02\x00\x01"  # never more than what is buffered
        assert s.pending() == 0
        with pytest.raises(BlockingIOError):
            s.recv(1)  # empty buffer, nothing in the kernel: paho's usual non-blocking error
        b.sendall(b"more")
        assert s.recv(2) == b"mo"
        assert s.recv(2) == b"re"
        b.close()
        assert s.recv(1) == b""  # EOF reaches paho as before
        assert s.fileno() == a.fileno()  # select() and the rest go to the real socket
    finally:
        a.close()
        b.close()
