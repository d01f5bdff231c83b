"""`recsys serve` and `recsys tokens add|list|revoke`: run the HTTP API and manage its tokens.

The server is an edge: it builds the app from the settings the CLI loaded, with the wall clock
as the app's clock. uvicorn's access log is off because it prints raw paths (user ids); the
app logs requests itself with user ids hashed (`-v` shows them). As an entry point it also
installs the filter of ``recsys.cli.logging_setup``, so a raw id that reaches a log line anyway
(uvicorn's access log turned back on, a worker run under uvicorn directly) is hashed too.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from recsys.api import create_app
from recsys.api.live import Clock
from recsys.cli.command_context import CommandContext, valid_id, valid_text
from recsys.cli.logging_setup import redact_user_ids
from recsys.errors import RecsysError, UsageError
from recsys.settings import Settings, load_settings
from recsys.state.tokens import ROLES, add_token, ensure_tokens_schema, list_tokens, revoke_token

# How a `--workers N` server hands the settings file and the cache size to its worker
# processes, which build their own app (uvicorn imports the factory by name). No "__" in the
# names: they are not settings overrides.
CONFIG_ENV = "RECSYS_SERVE_CONFIG"
CACHE_ENV = "RECSYS_SERVE_CACHE_MIB"
MIB = 1024 * 1024
STATE_DIR_ENV = "RECSYS_STATE_DIR"


class ListenError(RecsysError):
    """``recsys serve`` cannot listen on its address: the port is taken, or the host is not
    this machine's."""


def add_parsers(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the HTTP API (docs/contract.md section 5)")
    serve.add_argument("--host", help="listen on this address (default: serve.host)")
    serve.add_argument("--port", type=int, help="listen on this port (default: serve.port)")
    serve.add_argument("--workers", type=int, help="server processes (default: serve.workers)")
    serve.add_argument(
        "--cache-mib",
        type=int,
        help="MiB of rendered answers kept per process (default: serve.cache_mib; 0: off)",
    )
    serve.set_defaults(handler=run_serve)
    tokens = commands.add_parser("tokens", help="API tokens (stored hashed in the state)")
    verbs = tokens.add_subparsers(dest="verb", required=True, metavar="VERB")
    add = verbs.add_parser("add", help="make a token and print it once")
    add.add_argument("--name", required=True, help="who or what uses the token")
    add.add_argument(
        "--role",
        required=True,
        choices=sorted(ROLES),
        help="what the token may call: app, curator, trust or admin (everything)",
    )
    add.add_argument(
        "--secret-only",
        action="store_true",
        help="print only the token itself (for TOKEN=$(recsys tokens add ... --secret-only))",
    )
    _add_operator_arguments(add, "issued from the command line")
    add.set_defaults(handler=run_add)
    show = verbs.add_parser("list", help="list tokens (names and roles, never secrets)")
    show.set_defaults(handler=run_list)
    revoke = verbs.add_parser("revoke", help="revoke the active token of a name")
    revoke.add_argument("--name", required=True, help="the name the token was issued to")
    _add_operator_arguments(revoke, "revoked from the command line")
    revoke.set_defaults(handler=run_revoke)


def _add_operator_arguments(parser: argparse.ArgumentParser, why: str) -> None:
    parser.add_argument("--by", help="the operator, for the audit trail (default: login name)")
    parser.add_argument("--why", default=why, help="the reason, kept in the audit log")


def _operator(args: argparse.Namespace) -> tuple[str, str]:
    by = args.by
    if by is None:
        try:
            by = getpass.getuser()
        except (KeyError, OSError):
            by = "operator"
    return valid_text(by, "--by"), valid_text(args.why, "--why")


def run_add(args: argparse.Namespace, ctx: CommandContext) -> int:
    name = valid_id(args.name, "--name")
    by, why = _operator(args)
    conn = ctx.open_state()
    try:
        ensure_tokens_schema(conn)
        secret = add_token(conn, name, args.role, by=by, why=why, now=ctx.now)
    finally:
        conn.close()
    if args.secret_only:
        ctx.print(secret)
    else:
        ctx.print_json({"name": name, "role": args.role, "token": secret})
    print("recsys: the token is shown only this once; store it safely", file=sys.stderr)
    return 0


def run_list(args: argparse.Namespace, ctx: CommandContext) -> int:
    conn = ctx.open_existing_state()
    try:
        ensure_tokens_schema(conn)
        ctx.print_json([token.as_dict() for token in list_tokens(conn)])
    finally:
        conn.close()
    return 0


def run_revoke(args: argparse.Namespace, ctx: CommandContext) -> int:
    name = valid_id(args.name, "--name")
    by, why = _operator(args)
    conn = ctx.open_state()
    try:
        ensure_tokens_schema(conn)
        revoked = revoke_token(conn, name, by=by, why=why, now=ctx.now)
    finally:
        conn.close()
    if not revoked:
        raise UsageError(f"there is no active token named {name!r}")
    ctx.print_json({"name": name, "revoked": True})
    return 0


def run_serve(args: argparse.Namespace, ctx: CommandContext) -> int:
    serve = ctx.settings.serve
    host = args.host or serve.host
    port = serve.port if args.port is None else args.port
    workers = args.workers or serve.workers
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {port}")
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    cache_mib = serve.cache_mib if args.cache_mib is None else args.cache_mib
    if cache_mib < 0:
        raise UsageError(f"--cache-mib must be 0 or more, got {cache_mib}")
    # A state folder with no state or no pool fails here, with where it looked, and before
    # anything is created in it.
    ctx.open_state_with_pool().close()
    clock = partial(datetime.now, UTC)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "log_config": None,
        "server_header": False,
    }
    if workers == 1:
        app = _app(ctx.settings, clock, cache_mib)
        sock = _listen(host, port)  # a taken port fails here: before "serving" is printed
        _announce(ctx, host, sock, app)
        with suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl-C stops it, exit 0
            uvicorn.Server(uvicorn.Config(app, **options)).run(sockets=[sock])
        return 0
    # Each worker process builds its own app; build one here first so that a state with no
    # pool fails now, with a clear message, not in every worker.
    probe = _app(ctx.settings, clock, cache_mib)
    sock = _listen(host, port)
    _announce(ctx, host, sock, probe)
    probe.state.services.state.close_all()
    probe.state.services.store.close()
    config = getattr(args, "config", None)
    if config is not None:
        os.environ[CONFIG_ENV] = str(Path(config).resolve())
    os.environ[CACHE_ENV] = str(cache_mib)
    # The workers load the settings themselves: they get the state folder --state-dir named.
    os.environ[STATE_DIR_ENV] = str(ctx.settings.state_dir)
    worker_config = uvicorn.Config(
        f"{__name__}:worker_app", factory=True, workers=workers, **options
    )
    with suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl-C stops it, exit 0
        Multiprocess(worker_config, sockets=[sock]).run()
    return 0


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` (as uvicorn binds one), or ``ListenError``: the
    server says it is serving only once it listens, and a taken port is one line on stderr,
    not a "serving" line followed by uvicorn's failure."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise ListenError(
            f"cannot listen on {host}:{port}: {error.strerror or error}"
            " (another server on that port? choose another with --port)"
        ) from None
    sock.set_inheritable(True)  # the workers of a --workers N server accept on it
    return sock


def _app(settings: Settings, clock: Clock, cache_mib: int) -> FastAPI:
    """The app, with this process's log lines filtered through its user-id reference."""
    app = create_app(
        settings, clock, cache_bytes=cache_mib * MIB, radio_cache_bytes=cache_mib * MIB // 4
    )
    redact_user_ids(app.state.services.user_ref)
    return app


def _announce(ctx: CommandContext, host: str, sock: socket.socket, app: FastAPI) -> None:
    """The one line that says the server listens, with the port it got (``--port 0``)."""
    engine = app.state.services.live.engine
    port = sock.getsockname()[1]
    where = f"[{host}]" if ":" in host else host
    ctx.print(
        f"recsys: serving http://{where}:{port} (store {app.state.services.store.name},"
        f" pool {engine.gate.pool_version}, model {engine.context.model_version})"
    )
    ctx.out.flush()


def worker_app() -> FastAPI:
    """uvicorn's factory in each worker process: that process's entry point, so it loads the
    settings itself, from the same file and environment as the parent."""
    config = os.environ.get(CONFIG_ENV)
    settings = load_settings(Path(config) if config else None, os.environ, Path.cwd())
    cache_mib = int(os.environ.get(CACHE_ENV, settings.serve.cache_mib))
    return _app(settings, partial(datetime.now, UTC), cache_mib)
