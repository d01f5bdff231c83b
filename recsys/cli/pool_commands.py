"""`recsys pool build|show`: import a data directory and publish the trust-gated pool."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pool.importer import SNAPSHOT_DIR, current_pool_version, import_data_dir
from pool.snapshot import read_report
from recsys.cli.command_context import CommandContext, add_allow_shrink_argument, nothing_built


def add_parsers(commands: Any) -> None:
    pool = commands.add_parser("pool", help="build and inspect the trust-gated candidate pool")
    verbs = pool.add_subparsers(dest="verb", required=True, metavar="VERB")
    build = verbs.add_parser("build", help="import a data directory and publish a new pool")
    build.add_argument(
        "--data", type=Path, required=True, help="data directory (docs/contract.md section 2)"
    )
    build.add_argument("--json", action="store_true", help="print the report as JSON")
    add_allow_shrink_argument(build)
    build.set_defaults(handler=run_build)
    show = verbs.add_parser("show", help="print the report of the current pool")
    show.add_argument("--json", action="store_true", help="print the report as JSON")
    show.set_defaults(handler=run_show)


def print_summary(ctx: CommandContext, summary: dict[str, Any], max_issues: int) -> None:
    ctx.print(f"pool {summary['version']}")
    ctx.print(
        f"  catalog track rows {summary['catalog_tracks']}, admitted {summary['admitted']},"
        f" refused {summary['catalog_tracks'] - summary['admitted']}"
    )
    if summary["rejected_by_reason"]:
        ctx.print("  refused tracks by reason (a track may have several):")
        for reason, count in summary["rejected_by_reason"].items():
            ctx.print(f"    {reason:<22} {count}")
    if summary["feed_issues"]:
        shown = summary["first_feed_issues"][:max_issues]
        ctx.print(
            f"  rows refused by the feed readers: {summary['feed_issues']}"
            f" (first {len(shown)} below, all in the report)"
        )
        for line in shown:
            ctx.print(f"    {line}")


def run_build(args: argparse.Namespace, ctx: CommandContext) -> int:
    conn = ctx.open_state()
    try:
        result = import_data_dir(
            conn,
            ctx.settings.state_dir,
            args.data,
            ctx.settings.ai,
            ctx.now,
            max_shrink=ctx.settings.max_shrink(allow_shrink=args.allow_shrink),
        )
    finally:
        conn.close()
    summary = result.build.report.summary()
    report_path = ctx.settings.state_dir / SNAPSHOT_DIR / summary["version"] / "report.json"
    if args.json:
        ctx.print_json(
            {
                **summary,
                "report": str(report_path),
                "flags_added": result.flags_added,
                "takedowns_added": result.takedowns_added,
            }
        )
        return 0
    print_summary(ctx, summary, max_issues=10)
    ctx.print(
        f"  new flags {result.flags_added}, takedowns {result.takedowns_added}"
        " (trust comes only from the registry: `recsys trust import` or `trust verify-artist`)"
    )
    ctx.print(f"  full report: {report_path}")
    return 0


def run_show(args: argparse.Namespace, ctx: CommandContext) -> int:
    conn = ctx.open_existing_state()
    try:
        version = current_pool_version(conn)
    finally:
        conn.close()
    if version is None:  # an error like any other: on stderr, exit 1
        raise nothing_built("no pool has been built yet", ctx.settings.state_dir)
    report = read_report(ctx.settings.state_dir / SNAPSHOT_DIR, version)
    if args.json:
        ctx.print_json(report["summary"] | {"built_at": report["built_at"]})
    else:
        print_summary(ctx, report["summary"], max_issues=10)
        ctx.print(f"  built at {report['built_at']}")
    return 0
