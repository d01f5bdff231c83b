"""What every verb's ``--help`` ends with, and the options every verb accepts.

A newcomer reads ``recsys VERB --help`` before any code: each verb's help shows an example
and the exit codes (``finish_parsers``), and the options that say where and how to run
(``--state-dir``, ``--config``, ``-v``, and ``--json`` where the output is JSON) are accepted
on every verb, before or after its name. ``tests/recsys/test_cli_help.py`` walks every verb and
fails on an option without a description or a verb without an example.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterator
from pathlib import Path

EXIT_CODES = (
    "exit status: 0 done; 1 failed (the message on stderr says why: nothing built yet, an"
    " unknown artist or track, an unusable data directory, a damaged file, a busy port); 2 bad"
    " arguments or configuration; 130 interrupted (nothing half-written)"
)

# One example per verb, as a newcomer would type it (ids of `recsys generate-world` worlds).
EXAMPLES: dict[str, str] = {
    "demo": "recsys demo",
    "generate-world": "recsys generate-world ./world --users 1000 --artists 200 --seed 7",
    "pool build": "recsys pool build --data ./world",
    "pool show": "recsys pool show --json",
    "train": "recsys train --data ./world",
    "evaluate": "recsys evaluate --data ./hetrec2011-lastfm-2k --json",
    "rebuild": "recsys rebuild --data ./world --state-dir ./state",
    "store gc": "recsys store gc --json",
    "serve": "recsys serve --state-dir ./state --port 8080",
    "tokens add": "TOKEN=$(recsys tokens add --name ana --role curator --secret-only)",
    "tokens list": "recsys tokens list",
    "tokens revoke": "recsys tokens revoke --name ana --why 'left the team'",
    "mixes": "recsys mixes u0000001 --state-dir ./state",
    "release-radar": "recsys release-radar u0000001",
    "radio": "recsys radio --artist ar000012 --user u0000001 --limit 20",
    "similar": "recsys similar ar000012 --limit 10",
    "trust verify-artist": "recsys trust verify-artist ar000012 --by ana --why 'label confirmed'",
    "trust trust-label": "recsys trust trust-label lb0003 --by ana --why 'official label'",
    "trust trust-partner": "recsys trust trust-partner pt001 --by ana --why 'contract signed'",
    "trust revoke": "recsys trust revoke --artist ar000012 --by ana --why 'impersonation'",
    "trust import": "recsys trust import ./world --by ana --why 'initial registry'",
    "trust list": "recsys trust list --kind label",
    "flags add": "recsys flags add tr0000042 --source detector --score 0.97 --by bot --why scan",
    "flags review": "recsys flags review tr0000042 --decision exclude --by ana --why 'AI vocals'",
    "flags queue": "recsys flags queue",
    "links add": "recsys links add ar000012 ar000034 --weight 0.8 --by ana --why 'same scene'",
    "links block": "recsys links block ar000012 ar000099 --by ana --why 'not alike'",
    "links remove": "recsys links remove ar000012 ar000099 --by ana --why 'mistake'",
    "links list": "recsys links list --artist ar000012",
    "audit": "recsys audit --since 2026-11-01T00:00:00Z",
}

# Verbs whose output is never JSON: they take no --json.
TEXT_ONLY = frozenset({"demo", "serve"})
JSON_ALREADY = "accepted for scripts: the output is JSON already"


class ParagraphHelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, but a description or epilog keeps its line breaks (each line is
    wrapped on its own), and an indented line (a command) is never wrapped: the example stays
    whole, on a line of its own, to be copied as it is."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(
            indent + line
            if line.startswith("  ") or not line.strip()
            else textwrap.fill(line, width, initial_indent=indent, subsequent_indent=indent + "  ")
            for line in text.splitlines()
        )


def add_common_options(parser: argparse.ArgumentParser, *, on_verb: bool) -> None:
    """``--state-dir``, ``--config`` and ``-v``: on the program itself, and on every verb (where
    their defaults are left unset, so a value given before the verb stands)."""
    keep = {"default": argparse.SUPPRESS} if on_verb else {}
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="the state folder to use (default: RECSYS_STATE_DIR, else .recsys-state)",
        **keep,
    )
    parser.add_argument(
        "--config", type=Path, help="a TOML file overriding config/default.toml", **keep
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log progress to stderr", **keep
    )


def verbs(
    parser: argparse.ArgumentParser, path: str = ""
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every verb's parser (``"pool build"``, ``"mixes"``, ...), with its name."""
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not found:
        yield path, parser
        return
    for name, sub in found[0].choices.items():
        yield from verbs(sub, f"{path} {name}".strip())


def finish_parsers(parser: argparse.ArgumentParser) -> None:
    """Give every verb the common options, ``--json`` where its output is JSON, and a help
    that ends with an example and the exit codes."""
    for name, verb in verbs(parser):
        add_common_options(verb, on_verb=True)
        if name not in TEXT_ONLY and "--json" not in verb._option_string_actions:
            verb.add_argument("--json", action="store_true", help=JSON_ALREADY)
        verb.formatter_class = ParagraphHelpFormatter
        example = EXAMPLES.get(name)
        if example is None:
            raise ValueError(f"`recsys {name}` has no example in recsys.cli.help_texts")
        verb.epilog = f"example:\n  {example}\n\n{EXIT_CODES}"
