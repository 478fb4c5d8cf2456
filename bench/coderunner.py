"""coderunner latency and throughput against a bare ``python -c`` per program.

    python -m bench.coderunner [--requests 1000] [--baseline-runs 200]

Starts flow_automation and coderunner as real processes on free ports (the
servers from scripts/servers.sh must be running), then measures:

- latency of a trivial program over N sequential HTTP requests (p50, p99),
  next to ``subprocess.run([sys.executable, "-c", code])``;
- throughput with 2 and 8 concurrent clients, next to the same number of
  concurrent ``python -c`` processes.

Ends with ``RESULT p50_ratio=<ours/baseline> throughput_ratio=<ours/baseline>``
(throughput at 8 clients).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.fixtures.platform import running_platform

PROGRAM = "result = sum(range(10))"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def baseline_latency(runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", PROGRAM], check=True)
        samples.append(time.perf_counter() - started)
    return samples


def baseline_throughput(clients: int, total: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(lambda _: subprocess.run([sys.executable, "-c", PROGRAM], check=True), range(total)))
    return total / (time.perf_counter() - started)


class Client:
    """A minimal keep-alive HTTP/1.1 client, so the measurement is of the service, not of a client library."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        body = json.dumps({"code": PROGRAM}).encode()
        self.request = (
            f"POST /api/v1/execute HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def __aenter__(self) -> Client:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()

    async def execute(self) -> None:
        self.writer.write(self.request)
        status = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body = await self.reader.readexactly(length)
        if not status.startswith(b"HTTP/1.1 200") or json.loads(body)["result"] != 45:
            raise AssertionError(f"unexpected answer: {status!r} {body[:300]!r}")


async def our_latency(port: int, token: str, requests: int) -> list[float]:
    samples = []
    async with Client(port, token) as client:
        for _ in range(50):  # warm-up: compile cache, token cache, connection
            await client.execute()
        for _ in range(requests):
            started = time.perf_counter()
            await client.execute()
            samples.append(time.perf_counter() - started)
    return samples


async def our_throughput(port: int, token: str, clients: int, total: int) -> float:
    remaining = iter(range(total))

    async def one_client() -> None:
        async with Client(port, token) as client:
            for _ in remaining:
                await client.execute()

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return total / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--baseline-runs", type=int, default=200)
    args = parser.parse_args()

    print(f"baseline: python -c, {args.baseline_runs} runs ...", flush=True)
    base = baseline_latency(args.baseline_runs)
    base_tput = {clients: baseline_throughput(clients, args.baseline_runs) for clients in (2, 8)}

    with tempfile.TemporaryDirectory() as state, running_platform(Path(state), ("coderunner",)) as platform:
        port, token = platform.services["coderunner"].port, platform.token("code:execute")
        print(f"coderunner: {args.requests} sequential requests, then 2 and 8 concurrent clients ...", flush=True)
        ours = asyncio.run(our_latency(port, token, args.requests))
        ours_tput = {clients: asyncio.run(our_throughput(port, token, clients, args.requests)) for clients in (2, 8)}

    ms = 1000.0
    print()
    print(f"{'':28}{'coderunner':>14}{'python -c':>14}{'ratio':>10}")
    for label, fraction in (("latency p50 (ms)", 0.5), ("latency p99 (ms)", 0.99)):
        mine, theirs = percentile(ours, fraction) * ms, percentile(base, fraction) * ms
        print(f"{label:28}{mine:14.2f}{theirs:14.2f}{mine / theirs:10.3f}")
    print(f"{'latency mean (ms)':28}{statistics.mean(ours) * ms:14.2f}{statistics.mean(base) * ms:14.2f}")
    for clients in (2, 8):
        mine, theirs = ours_tput[clients], base_tput[clients]
        print(f"{f'throughput, {clients} clients (req/s)':28}{mine:14.1f}{theirs:14.1f}{mine / theirs:10.1f}")
    p50_ratio = percentile(ours, 0.5) / percentile(base, 0.5)
    throughput_ratio = ours_tput[8] / base_tput[8]
    print(f"RESULT p50_ratio={p50_ratio:.4f} throughput_ratio={throughput_ratio:.1f}")


if __name__ == "__main__":
    main()
