"""Shipping a run's log to the catalog: the driver writes a local file on the worker's machine; the worker
sends what was added since the last time (`Jobs.append_log`), so that the CLI and the console on any
machine read it from the catalog while the run goes on.

A failed send (the catalog briefly unreachable) keeps the text for the next one: it never ends the run.
"""

from __future__ import annotations

import codecs
import logging
import os
import time
from pathlib import Path

from metastore.catalog import CatalogService

log = logging.getLogger(__name__)

MAX_CHUNK = 256 * 1024  # characters per append: big outputs go as several rows
READ_BYTES = 4 * 1024 * 1024  # bytes of the file read per send, so one send stays short


class LogShipper:
    def __init__(self, service: CatalogService, run_id: int, path: Path, every_s: float = 1.0):
        self.service = service
        self.run_id = run_id
        self.path = Path(path)
        self.every_s = every_s
        self.offset = 0  # bytes of the file read so far
        self.pending = ""  # text read but not yet in the catalog
        self.shipped = 0  # characters in the catalog: a send retried after a lost answer is not doubled
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.next_at = 0.0

    def maybe_ship(self) -> None:
        """Ship if the last shipment is `every_s` old."""
        now = time.monotonic()
        if now >= self.next_at:
            self.next_at = now + self.every_s
            self.ship()

    def ship(self, final: bool = False) -> bool:
        """Send what the file gained since the last call; True when everything read is in the catalog.
        `final`: read to the end of the file (and of a last incomplete UTF-8 sequence)."""
        self._read(final)
        try:
            while self.pending:
                chunk = self.pending[:MAX_CHUNK]
                self.shipped = self.service.jobs.append_log(self.run_id, chunk, at=self.shipped)
                self.pending = self.pending[len(chunk) :]
        except Exception:  # noqa: BLE001 - the run goes on; the text is sent next time
            log.warning(
                "log of run %d: shipping to the catalog failed, will retry", self.run_id, exc_info=True
            )
            return False
        return True

    def _read(self, final: bool) -> None:
        try:  # not through a link: the file is the one the worker made (a driver may own it, not its folder)
            with open(os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
                f.seek(self.offset)
                while True:
                    data = f.read(READ_BYTES)
                    self.offset += len(data)
                    self.pending += self.decoder.decode(data, final=final and not data)
                    if not final or not data:
                        break
        except FileNotFoundError:
            pass

    def close(self, attempts: int = 3, pause_s: float = 1.0) -> None:
        """Ship the rest of the file, retrying a few times: the last lines usually say why a run ended."""
        for i in range(attempts):
            if self.ship(final=True):
                return
            if i + 1 < attempts:
                time.sleep(pause_s)
        log.error("log of run %d: %d characters could not be shipped to the catalog", self.run_id,
                  len(self.pending))  # fmt: skip
