"""`recsys rebuild` talks while it runs: each stage and how long it took, generation's rate
measured from generation itself (not from the start of the run) and the time left; without
a terminal, log lines, with a heartbeat while a long stage runs."""

from __future__ import annotations

import io
from datetime import datetime

from recsys.cli.rebuild_display import RebuildDisplay


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_each_stage_and_generation_are_written() -> None:
    clock = FakeClock()
    log = io.StringIO()
    display = RebuildDisplay(log, clock=clock, wall=lambda: datetime(2026, 12, 7, 3, 0, 5))
    display.stage("listens")
    clock.now += 45
    display.tick()  # the heartbeat of a long stage
    clock.now += 15
    display.stage("als")
    clock.now += 300  # training: must not count in generation's rate
    display.stage("prepare")
    clock.now += 2
    display.progress(2_000, 100_000)  # the first chunk: generation's clock starts
    clock.now += 10
    display.progress(12_000, 100_000)
    clock.now += 10
    display.progress(22_000, 100_000)
    display.stage("switch")
    display.finish()
    lines = [line.removeprefix("recsys: 03:00:05 ") for line in log.getvalue().splitlines()]
    assert log.getvalue().startswith("recsys: 03:00:05 stage listens started")
    assert "stage listens started" in lines
    assert "stage listens still running (45 s)" in lines
    assert "stage listens done in 60.0 s" in lines
    assert "stage als done in 300.0 s" in lines
    assert "stage prepare done in 2.0 s" in lines
    # 20,000 listeners in the 20 s since the first chunk: 1,000/s, 78 s left.
    assert "generated 22000/100000 listeners (1000/s, about 78 s left)" in lines
    assert any(line.startswith("stage generate done in 20.0 s") for line in lines)
    assert not any("still running" in line and "generate" in line for line in lines)


def test_on_a_terminal_stages_show_their_time_and_generation_a_bar() -> None:
    clock = FakeClock()
    terminal = Terminal()
    display = RebuildDisplay(terminal, clock=clock)
    display.stage("pool")
    clock.now += 3.25
    display.stage("prepare")
    display.announce("compiling the generators")
    display.progress(1_000, 4_000)
    display.progress(4_000, 4_000)
    display.stage("switch")
    display.finish()
    shown = terminal.getvalue()
    assert "pool      done in 3.2 s" in shown
    assert "recsys: compiling the generators" in shown
    assert "generate" in shown and "4.00k/4.00k" in shown
    assert "switch" in shown
