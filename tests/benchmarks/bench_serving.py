"""Benchmark: HTTP serving latency and throughput of `recsys serve` over Redis (SPEC section 7).

Targets: stored-mix reads (`GET /v1/users/{id}/mixes`) at p99 under 10 ms and at no less than
70% of the requests/s of a trivial endpoint of the same server (`GET /healthz`); on-request
artist radios (`GET /v1/radio/artist/{id}`) at p99 under 30 ms.

Generates a world, rebuilds it into Redis (a dedicated database, flushed first), starts the
real server process, then drives it from a second process: a fixed number of keep-alive
connections, each sending its next request as soon as the previous answer arrived (a closed
loop, so latency includes queueing behind the other connections). Loopback only; every phase
is bounded in requests and in seconds. Prints p50/p99 and requests/s per endpoint, the
median over --runs.

    python tests/benchmarks/bench_serving.py --users 5000 --concurrency 8 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

MIXES_P99_MS = 10.0
MIXES_THROUGHPUT_SHARE = 0.70
RADIO_P99_MS = 30.0


# ---- the load generator (second process) -------------------------------------------------


async def _client(
    host: str, port: int, paths: list[str], deadline: float, out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for path in paths:
            if time.perf_counter() >= deadline:
                break
            request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            out["latencies"].append(time.perf_counter() - started)
            if head[9:12] != b"200":
                out["errors"] += 1
    finally:
        writer.close()
        await writer.wait_closed()


async def _load(
    host: str, port: int, paths: list[str], concurrency: int, seconds: float
) -> dict[str, Any]:
    out: dict[str, Any] = {"latencies": [], "errors": 0}
    shares = [paths[i::concurrency] for i in range(concurrency)]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_client(host, port, share, deadline, out) for share in shares))
    wall = time.perf_counter() - started
    latencies = sorted(out["latencies"])
    count = len(latencies)
    return {
        "requests": count,
        "errors": out["errors"],
        "rps": count / wall,
        "p50_ms": latencies[count // 2] * 1000,
        "p99_ms": latencies[min(count - 1, int(count * 0.99))] * 1000,
    }


def run_client(args: argparse.Namespace) -> None:
    """Client mode: warm up, then measure one endpoint; prints one JSON line."""
    paths = json.loads(Path(args.paths).read_text())
    warmup = paths[: args.warmup]
    asyncio.run(_load(args.host, args.port, warmup, args.concurrency, args.seconds))
    result = asyncio.run(_load(args.host, args.port, paths, args.concurrency, args.seconds))
    print(json.dumps(result))


# ---- the orchestrator ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(port: int, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with status {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not become healthy in time")


def _prepare(
    root: Path, args: argparse.Namespace, env: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Generate and rebuild the world into Redis; returns (user ids, artist ids)."""
    from datetime import UTC, date, datetime  # noqa: PLC0415 - not needed in client mode

    import redis  # noqa: PLC0415

    from pool.trust_import import import_trust_files  # noqa: PLC0415
    from recsys.engine.loading import load_engine  # noqa: PLC0415
    from recsys.jobs.rebuild import run_rebuild  # noqa: PLC0415
    from recsys.settings import load_settings  # noqa: PLC0415
    from recsys.state.schema import open_engine_state  # noqa: PLC0415
    from recsys.world import WorldConfig, generate_world  # noqa: PLC0415

    today = date(2026, 11, 26)
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    settings = load_settings(None, env, root)
    if not (root / "data").exists():
        redis.Redis.from_url(args.redis_url).flushdb()
        started = time.perf_counter()
        config = WorldConfig(users=args.users, artists=args.artists, seed=args.seed, today=today)
        generate_world(root / "data", config)
        conn = open_engine_state(settings.state_dir)
        try:  # trust comes only from a named staff action, never from the rebuild
            import_trust_files(conn, root / "data", by="bench", why="benchmark setup", now=now)
        finally:
            conn.close()
        summary = run_rebuild(
            settings,
            root / "data",
            now,
            progress=lambda done, total: None,
            workers=os.cpu_count() or 1,
        )
        print(
            f"world of {args.users} users rebuilt into {summary['store']['name']} in"
            f" {time.perf_counter() - started:.1f} s"
            f" ({summary['generation']['users']} users stored)"
        )
    conn = open_engine_state(settings.state_dir)
    try:
        engine = load_engine(conn, settings.state_dir, settings, now)
    finally:
        conn.close()
    return engine.known_users(), sorted(engine.context.graph.nodes)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children so far (Linux /proc)."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _measure(
    port: int, name: str, paths: list[str], args: argparse.Namespace, *, root: Path, pid: int
) -> dict[str, Any]:
    paths_file = root / f"paths-{name}.json"
    paths_file.write_text(json.dumps(paths))
    command = [
        sys.executable,
        __file__,
        "client",
        "--port",
        str(port),
        "--paths",
        str(paths_file),
        "--concurrency",
        str(args.concurrency),
        "--seconds",
        str(args.seconds),
        "--warmup",
        str(args.warmup),
    ]
    cpu_before = _cpu_seconds(pid)
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=3 * args.seconds + 30, check=True
    )
    cpu = _cpu_seconds(pid) - cpu_before
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    # Server CPU per request (warm-up included in both terms): what the server itself spends,
    # whatever else the machine is doing.
    result["server_cpu_ms"] = cpu * 1000 / (result["requests"] + min(args.warmup, len(paths)))
    return result


def run_benchmark(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RECSYS_")}
        env |= {"RECSYS_STATE_DIR": str(root / "state"), "RECSYS_STORE": args.redis_url}
        users, artists = _prepare(root, args, env)
        port = _free_port()
        server_command = [sys.executable, "-m", "recsys", "serve", "--port", str(port)]
        server_command += ["--workers", str(args.server_workers)]
        server_command += ["--cache-mib", str(args.server_cache_mib)]
        server = subprocess.Popen(server_command, env=env, cwd=root)
        try:
            _wait_healthy(port, server, 60)
            endpoints = {
                "healthz": ["/healthz"] * args.requests,
                "mixes": [f"/v1/users/{rng.choice(users)}/mixes" for _ in range(args.requests)],
                "radio": [
                    f"/v1/radio/artist/{rng.choice(artists)}"
                    for _ in range(max(1, args.requests // 4))
                ],
                # A listener's own radio: generated for them on every request, never cached.
                "radio_user": [
                    f"/v1/radio/artist/{rng.choice(artists)}?user_id={rng.choice(users)}"
                    for _ in range(max(1, args.requests // 4))
                ],
            }
            results: dict[str, list[dict[str, Any]]] = {name: [] for name in endpoints}
            for run in range(args.runs):
                for name, paths in endpoints.items():
                    result = _measure(port, name, paths, args, root=root, pid=server.pid)
                    results[name].append(result)
                    print(
                        f"run {run + 1} {name:10} {result['requests']:6d} requests"
                        f" p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms"
                        f"  {result['rps']:7.0f} req/s  server CPU {result['server_cpu_ms']:.2f} ms"
                        f"/request  errors {result['errors']}"
                    )
        finally:
            server.terminate()
            server.wait(timeout=30)
        _report(results, args)


def _report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    median = {
        name: {
            key: statistics.median(r[key] for r in runs)
            for key in ("p50_ms", "p99_ms", "rps", "server_cpu_ms")
        }
        for name, runs in results.items()
    }
    print(
        f"\nmedians over {args.runs} runs, {args.concurrency} keep-alive connections,"
        f" {args.server_workers} server worker(s), {args.server_cache_mib} MiB cache:"
    )
    for name, m in median.items():
        print(
            f"  {name:10} p50 {m['p50_ms']:6.2f} ms  p99 {m['p99_ms']:6.2f} ms"
            f"  {m['rps']:7.0f} req/s  server CPU {m['server_cpu_ms']:.2f} ms/request"
        )
    share = median["mixes"]["rps"] / median["healthz"]["rps"]
    checks = [
        ("mixes p99 < 10 ms", median["mixes"]["p99_ms"] < MIXES_P99_MS),
        (
            f"mixes throughput {share:.0%} of /healthz (>= 70%)",
            share >= MIXES_THROUGHPUT_SHARE,
        ),
        ("radio p99 < 30 ms", median["radio"]["p99_ms"] < RADIO_P99_MS),
        ("listener's radio p99 < 30 ms", median["radio_user"]["p99_ms"] < RADIO_P99_MS),
    ]
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'MISS'} {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode")
    client = sub.add_parser("client", help="(internal) the load-generating process")
    client.add_argument("--host", default="127.0.0.1")
    client.add_argument("--port", type=int, required=True)
    client.add_argument("--paths", required=True)
    client.add_argument("--concurrency", type=int, required=True)
    client.add_argument("--seconds", type=float, required=True)
    client.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--artists", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    # Not the tests' database (14): the benchmark flushes the one it is given.
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--requests", type=int, default=4_000, help="per endpoint per run")
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring")
    parser.add_argument("--seconds", type=float, default=15.0, help="cap per phase")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--server-workers", type=int, default=1)
    parser.add_argument(
        "--server-cache-mib", type=int, default=64, help="`recsys serve --cache-mib` (0: off)"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the world in this folder and keep it; reused (no rebuild) if it exists,"
        " with the same --redis-url",
    )
    args = parser.parse_args()
    if args.mode == "client":
        run_client(args)
    else:
        run_benchmark(args)


if __name__ == "__main__":
    main()
