"""Run every benchmark in turn: ``python -m benchmarks [name ...]`` (all of them by default).

Each is a script of its own (bounded in time, loopback only; it prints a table and writes
``benchmarks/results/<name>.json``), run here in a fresh interpreter. All together take a few
minutes on 2 cores.
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks._common import ROOT

ALL = ("throughput", "instructions", "overhead", "upload", "import_time", "limiter", "bulk_memory")


def main(argv: list[str]) -> int:
    names = argv or list(ALL)
    unknown = [n for n in names if n not in ALL]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(ALL)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], cwd=ROOT, timeout=600).returncode
        print(f"=== {name}: exit {code} in {time.perf_counter() - start:.0f}s", flush=True)
        if code:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
