"""What `recsys rebuild` shows while it runs: each stage as it starts and how long it took, and
generation's progress with its rate and the time left.

On a terminal: a line per stage whose clock ticks while the stage runs, then a progress bar for
generation (tqdm), its rate measured from its own first chunk on (not from the start of the run,
which would count training in). Without a terminal (cron, a log collector): a line as each
stage starts and ends, another every ``heartbeat_s`` while a long stage runs, and generation's
progress every tenth with its rate and the time left, each line stamped with the time of day
(at the default verbosity: a cron job's output is where an operator looks).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from tqdm import tqdm

HEARTBEAT_S = 30.0


class RebuildDisplay:
    """The rebuild's ``stage_hook``, ``progress`` and ``announce``, shown on ``stream``."""

    def __init__(
        self,
        stream: TextIO,
        *,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.wall = wall
        self._stage: str | None = None
        self._stage_started = 0.0
        self._ticker: tqdm | None = None
        self._bar: tqdm | None = None
        self._first: tuple[float, int] | None = None  # generation's first report: (time, done)
        self._next_share = 0.1
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- stages --------------------------------------------------------------------------

    def stage(self, name: str) -> None:
        """A stage starts (the previous one, generation included, ended)."""
        with self._lock:
            self._end_stage()
            self._stage, self._stage_started = name, self.clock()
            if self.tty:
                self._ticker = tqdm(
                    total=None,
                    desc=f"{name:<9}",
                    bar_format="{desc} {elapsed}",
                    file=self.stream,
                    leave=True,
                )
            else:
                self._line(f"stage {name} started")
        self._start_thread()

    def finish(self) -> None:
        """The run ended (published or failed): close what is open."""
        with self._lock:
            self._end_stage()
            self._stage = None
        self._stop.set()

    def _end_stage(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._stage is None:
            return
        took = self.clock() - self._stage_started
        if self._ticker is not None:
            self._ticker.set_description_str(f"{self._stage:<9} done in {took:.1f} s")
            self._ticker.bar_format = "{desc}"
            self._ticker.close()
            self._ticker = None
        else:
            self._line(f"stage {self._stage} done in {took:.1f} s")

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="rebuild-display", daemon=True)
            self._thread.start()

    def _tick(self) -> None:
        interval = 0.5 if self.tty else self.heartbeat_s
        while not self._stop.wait(interval):
            self.tick()

    def tick(self) -> None:
        """Keep a terminal's stage clock moving; without one, say a long stage still runs
        (the display's thread calls this every half second, or every ``heartbeat_s``)."""
        with self._lock:
            if self._stage in (None, "generate"):
                return  # generation reports its own progress
            if self._ticker is not None:
                self._ticker.refresh()
            else:
                took = self.clock() - self._stage_started
                self._line(f"stage {self._stage} still running ({took:.0f} s)")

    # -- generation ------------------------------------------------------------------------

    def progress(self, done: int, total: int) -> None:
        """Generation stored ``done`` of ``total`` listeners."""
        with self._lock:
            now = self.clock()
            if self._first is None:
                # Generation's first chunk landed: the stage before it (prepare) ended.
                self._first = (now, done)
                self._end_stage()
                self._stage, self._stage_started = "generate", now
                if self.tty:
                    self._bar = tqdm(
                        total=total,
                        initial=done,
                        desc=f"{'generate':<9}",
                        unit=" users",
                        unit_scale=True,
                        file=self.stream,
                        smoothing=0.1,
                    )
                    return
            if self._bar is not None:
                self._bar.update(done - self._bar.n)
                return
            share = done / total if total else 1.0
            if share < self._next_share and done < total:
                return
            self._next_share = share + 0.1
            started, first_done = self._first
            rate = (done - first_done) / (now - started) if now > started else 0.0
            left = (total - done) / rate if rate > 0 else float("nan")
            self._line(
                f"generated {done}/{total} listeners ({rate:.0f}/s, about {left:.0f} s left)"
            )

    def announce(self, line: str) -> None:
        """A one-off line (the compile notice) that must not break a bar."""
        with self._lock:
            if self.tty:
                tqdm.write(f"recsys: {line}", file=self.stream)
            else:
                self._line(line)

    def _line(self, text: str) -> None:
        print(f"recsys: {self.wall():%H:%M:%S} {text}", file=self.stream, flush=True)
