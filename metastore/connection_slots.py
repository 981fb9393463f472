"""Open connections counted overall and per peer address, so that one client cannot take every connection
of a server. Shared by the Thrift server (metastore/hms/server.py) and `mortar glue-api`'s HTTP server
(metastore/glue/server.py); each decides how to refuse and what to log."""

from __future__ import annotations

import threading


class ConnectionSlots:
    def __init__(self, total: int, per_peer: int):
        self.total, self.per_peer = total, per_peer  # a cap <= 0: none
        self._lock = threading.Lock()
        self._peers: dict[str, int] = {}
        self._open = 0

    def admit(self, peer: str) -> str | None:
        """Count a connection from `peer`; None when admitted, else the cap it would pass
        ("max_connections" or "max_connections_per_peer"). An admitted connection is released once."""
        with self._lock:
            if 0 < self.total <= self._open:
                return "max_connections"
            n = self._peers.get(peer, 0)
            if 0 < self.per_peer <= n:
                return "max_connections_per_peer"
            self._open += 1
            self._peers[peer] = n + 1
            return None

    def open_from(self, peer: str) -> int:
        with self._lock:
            return self._peers.get(peer, 0)

    def release(self, peer: str) -> None:
        with self._lock:
            self._open -= 1
            left = self._peers.get(peer, 0) - 1
            if left > 0:
                self._peers[peer] = left
            else:
                self._peers.pop(peer, None)
