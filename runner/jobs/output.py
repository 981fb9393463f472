"""Where a warm driver's output goes: the JVM is started once, long before the run, and inherits the
process's stdout and stderr for good, so they cannot simply be pointed at the run's log when the run
comes. Instead fds 1 and 2 (of Python and of the JVM it starts) are a pipe, and a thread of the driver
copies what comes out of it to the current sink: the pool's log while the driver warms up and waits,
the run's log while a run executes (in a child forked from the driver, which inherits the pipe).

Switching sinks first drains the pipe (a marker written through it comes out after everything written
before it), so the lines of the warm-up never land in a run's log and a run's last lines never miss it.
"""

from __future__ import annotations

import os
import sys
import threading

MARK = b"\x00mortar-drain\x00"


class OutputForwarder:
    def __init__(self) -> None:
        self.home = os.dup(2)  # the pool's log, where stderr went so far
        self.sink = self.home
        self.ready_fd = os.dup(1)  # the pool's pipe, for READY only
        r, w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(w, 1)
        os.dup2(w, 2)
        os.close(w)
        self._r = r
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._marks_seen = 0
        _line_buffered()
        threading.Thread(target=self._copy, name="output-forwarder", daemon=True).start()

    def _copy(self) -> None:
        buf = b""
        while True:
            try:
                data = os.read(self._r, 65536)
            except InterruptedError:
                continue
            if not data:
                return
            buf += data
            while True:
                i = buf.find(MARK)
                if i < 0:
                    break
                self._write(buf[:i])
                buf = buf[i + len(MARK) :]
                with self._lock:
                    self._marks_seen += 1
                    self._drained.notify_all()
            keep = next((k for k in range(min(len(MARK) - 1, len(buf)), 0, -1) if buf.endswith(MARK[:k])), 0)
            self._write(buf[: len(buf) - keep])
            buf = buf[len(buf) - keep :]

    def _write(self, data: bytes) -> None:
        with self._lock:
            sink = self.sink
            while data:
                try:
                    data = data[os.write(sink, data) :]
                except InterruptedError:
                    continue
                except OSError:
                    return  # a sink gone bad: drop the output rather than block the writers

    def drain(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything written to fds 1 and 2 so far has reached the sink."""
        sys.stdout.flush()
        sys.stderr.flush()
        with self._lock:
            target = self._marks_seen + 1
        os.write(1, MARK)
        with self._lock:
            return self._drained.wait_for(lambda: self._marks_seen >= target, timeout_s)

    def switch(self, path: str) -> None:
        """From now on, output goes to the file `path` (appended)."""
        self.drain()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        with self._lock:
            old, self.sink = self.sink, fd
        if old != self.home:
            os.close(old)

    def restore(self) -> None:
        """From now on (once what was written so far reached the run's log), output goes to the pool's log
        again: the run has ended, the driver waits for the next."""
        self.drain()
        with self._lock:
            old, self.sink = self.sink, self.home
        if old != self.home:
            os.close(old)

    def ready(self, message: bytes) -> None:
        os.write(self.ready_fd, message)


def _line_buffered() -> None:
    """Python's sys.stdout and sys.stderr on fds 1 and 2, line-buffered (a pipe would buffer blocks)."""
    sys.stdout = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")  # noqa: SIM115
