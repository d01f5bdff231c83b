"""A newcomer's walk through the command line, from a clean directory, following only what the
commands print: `recsys demo`, then the commands it prints, exactly as printed; reads that
find nothing say where they looked and create nothing; `recsys serve` on a taken port."""

from __future__ import annotations

import itertools
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from recsys.domain.mix import NO_MODEL, PERSONAL_BASIS, UNKNOWN_LISTENER
from tests.recsys.api.world import free_port, stop_server

DEMO_SIZE = {"RECSYS_DEMO__USERS": "300", "RECSYS_DEMO__ARTISTS": "60"}


def _environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A shell with no RECSYS_ setting of the test run's own (a clean machine's)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
    return environ | (extra or {})


def _argv(command: str) -> list[str]:
    """A printed `recsys ...` command as this Python runs it (`recsys` is `python -m recsys`)."""
    words = shlex.split(command, comments=True)
    assert words[0] == "recsys", command
    return [sys.executable, "-m", "recsys", *words[1:]]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def _run(command: str, cwd: Path, env: dict[str, str] | None = None) -> Ran:
    done = subprocess.run(
        _argv(command),
        check=False,
        cwd=cwd,
        env=_environ(env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Demo:
    cwd: Path
    out: str
    port: int

    @property
    def next_commands(self) -> list[str]:
        """The commands the demo prints after "next:", one per line."""
        tail = self.out.split("\nnext:", 1)[1].splitlines()[1:]
        return [line.strip() for line in tail if line.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`recsys demo` in an empty directory (the default state folder, `.recsys-state`), with
    the server's port of this test run (RECSYS_SERVE__PORT, as an operator would set it)."""
    cwd = tmp_path_factory.mktemp("newcomer")
    port = free_port()
    ran = _run("recsys demo", cwd, DEMO_SIZE | {"RECSYS_SERVE__PORT": str(port)})
    assert ran.code == 0, ran.err
    assert "Traceback" not in ran.err
    return Demo(cwd, ran.out, port)


def test_the_demo_runs_the_pipeline_and_explains_each_track(demo: Demo) -> None:
    for heading in (
        "built the trust-gated candidate pool",
        "screened listens",
        "artists similar to",
        "for user",
        "Release Radar",
        "an artist radio",
    ):
        assert heading in demo.out
    assert "because you listen to" in demo.out
    assert ("curated by" in demo.out) or ("ALS neighbour" in demo.out)


def test_the_demo_prints_words_plurals_and_aligned_columns(demo: Demo) -> None:
    heading = re.search(r"^6\. (\d+) personal (mix|mixes) for user", demo.out, re.MULTILINE)
    assert heading is not None
    assert (heading.group(2) == "mix") == (heading.group(1) == "1")
    # No model score in a listener's reason (they used to end "... also play this (0.7057)").
    rows = _track_rows(demo.out)
    assert rows and not [row for row in rows if re.search(r"\d\.\d", row[-1])]
    # Within a mix the reason column starts at the same place on every line.
    after = demo.out.split("\n6. ", 1)[1].splitlines()[2:]  # past the heading and mix title
    block = "\n".join(itertools.takewhile(lambda line: line.startswith("      "), after))
    first_mix = _track_rows(block)
    assert len(first_mix) > 1
    assert len({len(line) - len(cells[-1]) for line, *cells in first_mix}) == 1, first_mix


def _track_rows(text: str) -> list[list[str]]:
    """The printed track lines of ``text`` (six spaces in; artists, title and reason two or
    more spaces apart), each as [line, artists, title, reason]."""
    return [
        [line, *re.split(r"  +", line.strip())]
        for line in text.splitlines()
        if line.startswith("      ")
        and not line.strip().startswith("...")
        and len(re.split(r"  +", line.strip())) == 3
    ]


def test_the_commands_the_demo_prints_show_the_listeners_personal_mixes(demo: Demo) -> None:
    commands = demo.next_commands
    mixes = [c for c in commands if c.startswith("recsys mixes ")]
    radar = [c for c in commands if c.startswith("recsys release-radar ")]
    assert len(mixes) == 1 and len(radar) == 1
    for command in (*mixes, *radar):
        ran = _run(command, demo.cwd)
        assert ran.code == 0, ran.err
        answer = json.loads(ran.out)
        found = answer.get("mixes", [answer])
        assert found and all(m["personalised"] for m in found), command
        assert {m["basis"] for m in found} == {PERSONAL_BASIS}
        names = [t["artist_names"] for m in found for t in m["tracks"]]
        assert names and all(len(n) >= 1 for n in names)
    # The same state, for a listener it has never seen: not personalised, and why.
    stranger = mixes[0].replace(mixes[0].split()[2], "nobody-at-all", 1)
    ran = _run(stranger, demo.cwd)
    assert ran.code == 0, ran.err
    assert {(m["personalised"], m["basis"]) for m in json.loads(ran.out)["mixes"]} == {
        (False, UNKNOWN_LISTENER)
    }


@pytest.fixture
def served(demo: Demo, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The printed `recsys serve` running as printed; yields its "serving" line and the
    printed curl command."""
    (serve,) = [c for c in demo.next_commands if c.startswith("recsys serve")]
    (curl,) = [c for c in demo.next_commands if c.startswith("curl ")]
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            _argv(serve),
            cwd=demo.cwd,
            env=_environ({"RECSYS_SERVE__PORT": str(demo.port)}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while "serving" not in log.read_text():
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield log.read_text(), curl
    finally:
        stop_server(server)


def test_the_printed_serve_command_serves_the_listeners_mixes(
    demo: Demo, served: tuple[str, str]
) -> None:
    line, curl = served
    url = shlex.split(curl, comments=True)[1]
    assert f":{demo.port}" in line and f":{demo.port}/" in url
    answer: dict[str, Any] = httpx.get(url, timeout=30).json()
    assert answer["mixes"] and all(m["personalised"] for m in answer["mixes"])


def test_serve_on_a_taken_port_fails_with_one_line_and_never_says_serving(demo: Demo) -> None:
    (serve,) = [c for c in demo.next_commands if c.startswith("recsys serve")]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ran = _run(f"{serve} --port {port}", demo.cwd)
    assert ran.code == 1
    assert "serving" not in ran.out and ran.out == ""
    assert ran.err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in ran.err


def test_a_read_where_nothing_was_built_says_where_it_looked_and_creates_nothing(
    tmp_path: Path,
) -> None:
    for command in ("recsys mixes u0000001", "recsys pool show", "recsys similar ar000001"):
        ran = _run(command, tmp_path)
        assert ran.code == 1 and ran.out == "", command
        assert str(tmp_path / ".recsys-state") in ran.err
        assert "`recsys rebuild --data DIR`" in ran.err and "--state-dir" in ran.err
        assert ran.err.count("\n") == 1 and "Traceback" not in ran.err
    assert list(tmp_path.iterdir()) == []  # no .recsys-state, no state.sqlite3


def test_pool_show_without_a_pool_says_so_on_stderr(tmp_path: Path) -> None:
    """A state with tokens but no pool yet: `pool show` fails on stderr, naming the folder."""
    made = _run("recsys tokens add --name ana --role curator --secret-only", tmp_path)
    assert made.code == 0, made.err
    ran = _run("recsys pool show", tmp_path)
    assert ran.code == 1 and ran.out == ""
    assert f"no pool has been built yet in {tmp_path / '.recsys-state'}" in ran.err


def test_mixes_before_any_model_say_so(tmp_path: Path) -> None:
    """After a bare `pool build` (no training yet) `recsys mixes` answers, and says its mixes
    are not personalised because there is no model yet."""
    world = tmp_path / "world"
    too_small = _run(f"recsys generate-world {world} --users 5 --artists 12 --seed 3", tmp_path)
    assert too_small.code == 2 and "users must be at least" in too_small.err
    assert "Traceback" not in too_small.err
    steps = (
        f"recsys generate-world {world} --users 60 --artists 20 --seed 3",
        f"recsys trust import {world} --by ana --why 'first registry'",
        f"recsys pool build --data {world}",
        "recsys mixes u0000001",
    )
    for step in steps:
        ran = _run(step, tmp_path)
        assert ran.code == 0, (step, ran.err)
    mixes = json.loads(ran.out)["mixes"]
    assert mixes and {(m["personalised"], m["basis"]) for m in mixes} == {(False, NO_MODEL)}


def test_the_readme_quick_start_shows_the_commands_as_the_demo_prints_them(demo: Demo) -> None:
    """The README's block after `recsys demo` is what the demo prints (the default demo's
    listener and port there; this run's are its own)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("```text\nnext:", 1)[1].split("```", 1)[0].splitlines()[1:]
    listener = re.compile(r"u\d{7}")

    def shape(lines: list[str]) -> list[str]:
        return [listener.sub("USER", re.sub(r":\d+/", ":PORT/", line.strip())) for line in lines]

    assert block and shape(block) == shape(demo.next_commands)


def test_the_readme_curator_example_works_as_written(demo: Demo) -> None:
    """The README's curator block, run by bash in the demo's folder as a newcomer pastes it
    (this run's free port for 8080; the server it starts is stopped afterwards)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = "export RECSYS_STATE_DIR=.recsys-state/demo/state"
    block = start + readme.split(start, 1)[1].split("\n```", 1)[0]
    assert "recsys serve --port 8080 &" in block and "/v1/curation/links" in block
    port = str(free_port())
    script = "set -euo pipefail\ntrap 'kill %1 2>/dev/null || true' EXIT\n" + block.replace(
        "8080", port
    )
    bin_dir = str(Path(sys.executable).parent)  # where pip put `recsys` beside this Python
    env = _environ({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=demo.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    # curl prints each answer as it comes, with no newline between them; the server's own
    # "recsys: serving ..." line shares the terminal.
    shown = [line for line in done.stdout.splitlines() if not line.startswith("recsys: ")]
    decoder, text, answers = json.JSONDecoder(), "\n".join(shown).strip(), []
    while text:
        answer, end = decoder.raw_decode(text)
        answers.append(answer)
        text = text[end:].lstrip()
    mixes, link = answers
    assert mixes["mixes"] and {"personalised", "basis"} <= mixes["mixes"][0].keys()
    assert link["link"]["kind"] == "block" and link["effective"], link
