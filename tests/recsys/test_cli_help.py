"""Every verb's ``--help`` is enough to use it: each option and argument described, an example,
the exit codes; the options that say where to run accepted on every verb, before or after it;
``--json`` wherever the output is JSON; no misspelt article ("a artist")."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from recsys.cli.help_texts import EXAMPLES, TEXT_ONLY, verbs
from recsys.cli.main import build_parser
from tests.recsys.cli_runner import run_cli

VERBS = dict(verbs(build_parser()))


def test_the_walk_finds_every_verb() -> None:
    assert {"demo", "mixes", "similar", "pool build", "links list", "serve"} <= set(VERBS)
    assert set(VERBS) == set(EXAMPLES)  # no example for a verb that is gone


@pytest.mark.parametrize("name", sorted(VERBS))
def test_every_option_of_every_verb_is_described(name: str) -> None:
    parser = VERBS[name]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        what = "/".join(action.option_strings) or action.dest
        assert action.help and action.help.strip(), f"recsys {name}: {what} has no description"
    text = parser.format_help()
    assert f"example:\n  {EXAMPLES[name]}" in text
    assert EXAMPLES[name].split()[:2] == ["recsys", *name.split()[:1]] or "$(" in EXAMPLES[name]
    assert "exit status: 0 done; 1 failed" in text and "2 bad arguments" in text
    for option in ("--state-dir", "--config", "--verbose"):
        assert option in text
    if name not in TEXT_ONLY:
        assert "--json" in text, f"recsys {name} prints JSON: it takes --json"
    # "a artist", "a int": the article before a vowel
    assert not re.search(r"\b[Aa] [aeiou]\w", text), text


def test_help_runs_as_a_command_with_the_example_and_exit_codes(tmp_path: Path) -> None:
    result = run_cli("demo", "--help", state_dir=tmp_path)
    assert result.code == 0 and result.err == ""
    assert "--state-dir" in result.out and "example:\n  recsys demo" in result.out
    assert "exit status" in result.out


def test_common_options_are_taken_before_or_after_the_verb() -> None:
    parser = build_parser()
    after = parser.parse_args(["similar", "ar1", "--json", "-v", "--state-dir", "s"])
    before = parser.parse_args(["-v", "--state-dir", "s", "similar", "ar1"])
    for args in (after, before):
        assert args.verbose is True and str(args.state_dir) == "s"
    neither = parser.parse_args(["similar", "ar1"])
    assert neither.verbose is False and neither.state_dir is None and neither.config is None
    assert after.json is True


def test_a_verb_given_state_dir_reads_that_folder(tmp_path: Path) -> None:
    """``--state-dir`` beats ``RECSYS_STATE_DIR`` (``run_cli`` sets it to another folder)."""
    root = tmp_path
    result = run_cli("mixes", "u1", "--state-dir", root / "given", state_dir=root / "env")
    assert result.code == 1 and str(root / "given") in result.err
    assert str(root / "env") not in result.err
