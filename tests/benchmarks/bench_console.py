"""Benchmark: the curators' console pages over a real `recsys serve` (issue 16: p99 under 50 ms
for a world of about 100,000 tracks).

Generates a world (20,000 listeners and 8,500 artists give about 104,000 tracks, 75,700 of
them served by the built pool), rebuilds it (the embedded store by default), makes an admin
token and starts the real server process, then signs in through the form as a browser does
(the sign-in page's CSRF cookie and field, then the session cookie) and times each page with
httpx: the home page, artist search (the page and the as-you-type fragment, for prefixes of
random artists' names), random artists' pages, previews of blocking random neighbour pairs
(radio before/after and the pair's reach in stored mixes; each pair previewed once, so no
answer comes from the preview's cache), the review queue, the history (whole and filtered)
and the trust registry, with `GET /healthz` beside them in the same run. Each of --clients
keep-alive clients sends its next request when the previous answer arrived (a closed loop;
one client by default, so latency is the page's own). Prints p50/p99 per page and the
server's CPU per request, the median over --runs.

    python tests/benchmarks/bench_console.py --runs 3 [--clients 1] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The server's CPU per request is read as the serving benchmark reads it.
from tests.benchmarks.bench_serving import _cpu_seconds  # noqa: E402
from tests.recsys.api.world import free_port  # noqa: E402

P99_MS = 50.0
TODAY = date(2026, 11, 26)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Pool:
    """What the requests are drawn from: the rebuilt pool's artists, names and neighbours."""

    artists: list[str]
    names: dict[str, str]
    neighbours: dict[str, list[str]]


# A request: (method, path, form or None).
Request = tuple[str, str, dict[str, str] | None]


def _prepare(root: Path, args: argparse.Namespace, env: dict[str, str]) -> tuple[Pool, str]:
    """Generate and rebuild the world; returns the pool and an admin token's secret."""
    from pool.trust_import import import_trust_files  # noqa: PLC0415 - heavy, once
    from recsys.engine.loading import load_engine  # noqa: PLC0415
    from recsys.jobs.rebuild import run_rebuild  # noqa: PLC0415
    from recsys.settings import load_settings  # noqa: PLC0415
    from recsys.state.schema import open_engine_state  # noqa: PLC0415
    from recsys.state.tokens import add_token, ensure_tokens_schema  # noqa: PLC0415
    from recsys.world import WorldConfig, generate_world  # noqa: PLC0415

    now = datetime.now(UTC)
    settings = load_settings(None, env, root)
    started = time.perf_counter()
    config = WorldConfig(users=args.users, artists=args.artists, seed=args.seed, today=TODAY)
    world = generate_world(root / "data", config)
    conn = open_engine_state(settings.state_dir)
    try:  # trust comes only from a named staff action, never from the rebuild
        import_trust_files(conn, root / "data", by="bench", why="benchmark setup", now=now)
    finally:
        conn.close()
    summary = run_rebuild(
        settings, root / "data", now, progress=lambda done, total: None, workers=args.workers
    )
    conn = open_engine_state(settings.state_dir)
    try:
        ensure_tokens_schema(conn)
        token = add_token(conn, "bench-admin", "admin", by="bench", why="benchmark", now=now)
        engine = load_engine(conn, settings.state_dir, settings, now)
    finally:
        conn.close()
    ctx = engine.context
    artists = sorted(ctx.graph.nodes)
    print(
        f"world: {world['tracks']:,} tracks generated ({world['catalog_artists']:,} artists,"
        f" {world['users']:,} listeners); built pool: {len(ctx.catalog.tracks):,} tracks,"
        f" {len(ctx.catalog.artist_names):,} artists ({len(artists):,} in the similarity"
        f" graph), {len(engine.known_users()):,} listeners"
        f" ({summary['generation']['users']:,} with stored mixes in {summary['store']['name']});"
        f" generated and rebuilt in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    neighbours = {a: sorted(ctx.graph.neighbors(a)) for a in artists}
    names = {a: ctx.catalog.artist_names.get(a, "") for a in artists}
    return Pool(artists, names, {a: n for a, n in neighbours.items() if n}), token


def _query(rng: random.Random, pool: Pool) -> str:
    """What a curator types: the first 3 to 6 letters of a word of a random artist's name."""
    words = pool.names[rng.choice(pool.artists)].split() or ["ar0"]
    word = rng.choice(words)
    return word[: rng.randint(3, 6)]


def _requests(
    rng: random.Random, pool: Pool, count: int, csrf: str, previewed: set[tuple[str, str]]
) -> dict[str, list[Request]]:
    """``count`` requests per page, drawn afresh (previews: pairs not previewed before)."""
    seeds = list(pool.neighbours)
    pairs: list[tuple[str, str]] = []
    while len(pairs) < count:
        artist = rng.choice(seeds)
        other = rng.choice(pool.neighbours[artist])
        if (key := (min(artist, other), max(artist, other))) not in previewed:
            previewed.add(key)
            pairs.append((artist, other))
    form = {"csrf": csrf, "kind": "block", "weight": "", "note": "bench", "action": "preview"}
    return {
        "healthz": [("GET", "/healthz", None)] * count,
        "home": [("GET", "/console", None)] * count,
        "search page": [
            ("GET", f"/console/artists?q={_query(rng, pool)}", None) for _ in range(count)
        ],
        "search fragment": [
            ("GET", f"/console/artists/search?q={_query(rng, pool)}", None) for _ in range(count)
        ],
        "artist page": [
            ("GET", f"/console/artists/{rng.choice(pool.artists)}", None) for _ in range(count)
        ],
        "block preview": [
            ("POST", f"/console/artists/{a}/links", form | {"other": b}) for a, b in pairs
        ],
        "review": [("GET", "/console/review", None)] * count,
        "history": [("GET", "/console/history", None)] * count,
        "history, links.": [("GET", "/console/history?person=&action=links.&subject=", None)]
        * count,
        "trust": [("GET", "/console/trust", None)] * count,
    }


def _sign_in(base: str, token: str) -> tuple[httpx.Cookies, str]:
    """Through the form, as a browser: returns the session's cookies and its CSRF token."""
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/console/sign-in")
        page.raise_for_status()
        found = CSRF.search(page.text)
        if found is None:
            raise SystemExit("no CSRF field on the sign-in page")
        form = {"token": token, "csrf": found.group(1), "next": "/console"}
        answer = client.post("/console/sign-in", data=form)
        if answer.status_code != 303 or "recsys_console" not in client.cookies:
            raise SystemExit(f"sign-in failed: {answer.status_code} {answer.text[:200]}")
        home = client.get("/console")
        home.raise_for_status()
        found = CSRF.search(home.text)
        if found is None:
            raise SystemExit("no CSRF field on the console's pages")
        return client.cookies, found.group(1)


def _load(
    base: str, cookies: httpx.Cookies, requests: list[Request], clients: int
) -> dict[str, Any]:
    """Send ``requests`` over ``clients`` keep-alive connections (threads, closed loop)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(share: list[Request]) -> None:
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as http:
            for method, path, form in share:
                started = time.perf_counter()
                answer = http.request(method, path, data=form)
                seconds = time.perf_counter() - started
                with lock:
                    latencies.append(seconds)
                    if answer.status_code != 200:
                        errors.append(f"{answer.status_code} {method} {path}")

    threads = [
        threading.Thread(target=client, args=(requests[i::clients],)) for i in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ordered = sorted(latencies)
    count = len(ordered)
    return {
        "requests": count,
        "errors": errors,
        "rps": count / wall,
        "p50_ms": ordered[count // 2] * 1000,
        "p99_ms": ordered[min(count - 1, int(count * 0.99))] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def _wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become healthy in time")


def run_benchmark(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        root = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
        env |= {"RECSYS_STATE_DIR": str(root / "state"), "RECSYS_STORE": args.store}
        pool, token = _prepare(root, args, env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "recsys", "serve", "--port", str(port)]
        command += ["--workers", str(args.server_workers)]
        log = (root / "server.log").open("wb")
        server = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=log)
        try:
            _wait_healthy(base, server, 120)
            cookies, csrf = _sign_in(base, token)
            results: dict[str, list[dict[str, Any]]] = {}
            previewed: set[tuple[str, str]] = set()
            for run in range(1, args.runs + 1):
                warm = _requests(rng, pool, args.warmup, csrf, previewed)
                timed = _requests(rng, pool, args.requests, csrf, previewed)
                for name, requests in timed.items():
                    _load(base, cookies, warm[name], args.clients)
                    cpu_before = _cpu_seconds(server.pid)
                    result = _load(base, cookies, requests, args.clients)
                    result["cpu_ms"] = (
                        (_cpu_seconds(server.pid) - cpu_before) * 1000 / result["requests"]
                    )
                    results.setdefault(name, []).append(result)
                    errors = result["errors"]
                    example = f" e.g. {errors[0]}" if errors else ""
                    print(
                        f"run {run} {name:16} {result['requests']:4d} requests"
                        f"  p50 {result['p50_ms']:7.2f} ms  p99 {result['p99_ms']:7.2f} ms"
                        f"  max {result['max_ms']:7.2f} ms  server CPU {result['cpu_ms']:6.2f}"
                        f" ms/request  errors {len(errors)}{example}",
                        flush=True,
                    )
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
        _report(results, args)


def _report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    def median(runs: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(
        f"\nmedians over {args.runs} runs of {args.requests} requests per page, {args.clients}"
        f" client(s), {args.server_workers} server worker(s):"
    )
    checks: list[tuple[str, bool]] = []
    for name, runs in results.items():
        p50, p99 = median(runs, "p50_ms"), median(runs, "p99_ms")
        print(
            f"  {name:16} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  {median(runs, 'rps'):6.0f} req/s"
            f"  server CPU {median(runs, 'cpu_ms'):6.2f} ms/request"
        )
        if name != "healthz":
            checks.append((f"{name} p99 {p99:.1f} ms < {P99_MS:.0f} ms", p99 < P99_MS))
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'MISS'} {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--artists", type=int, default=8_500, help="about 12 tracks each")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--store", default="embedded", help="RECSYS_STORE: embedded, or an empty Redis database"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rebuild's")
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument("--clients", type=int, default=1, help="concurrent keep-alive clients")
    parser.add_argument("--requests", type=int, default=200, help="per page per run")
    parser.add_argument("--warmup", type=int, default=20, help="per page per run, not timed")
    parser.add_argument("--runs", type=int, default=3)
    run_benchmark(parser.parse_args())


if __name__ == "__main__":
    main()
