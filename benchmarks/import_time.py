"""``import tgo_async`` versus ``import aiohttp, attrs, cattrs, tenacity`` in fresh interpreters.

Both run in the same session, alternating, each in a new process so nothing is cached in memory
(the OS page cache is warm for both alike). What tgo_async adds on top of its dependencies is the
difference of the medians. Goal: <= 20 ms more.

The package is byte-compiled first, as pip does for an installed wheel (the dependencies already
are): an editable checkout under ``PYTHONDONTWRITEBYTECODE=1`` would otherwise recompile every
module on every import and measure the compiler, not the import.

    python -m benchmarks.import_time [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from typing import Any

from benchmarks._common import ROOT, machine_line, table, write_json

_PROBE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
CASES = {"deps": "import aiohttp, attrs, cattrs, tenacity", "tgo_async": "import tgo_async"}


def _once(stmt: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE.format(stmt=stmt)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(out.stdout.strip()) * 1000


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.import_time")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "tgo_async")], env=env, check=True)
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for stmt in CASES.values():
        _once(stmt)  # warm the page cache for both before measuring
    for _ in range(args.runs):
        for name, stmt in CASES.items():
            times[name].append(_once(stmt))
    med = {name: statistics.median(v) for name, v in times.items()}
    extra = med["tgo_async"] - med["deps"]
    print(machine_line())
    print(f"fresh interpreter per import, {args.runs} alternating runs each")
    print(
        table(
            ["import", "median ms", "min ms", "max ms"],
            [[CASES[n], f"{med[n]:.1f}", f"{min(times[n]):.1f}", f"{max(times[n]):.1f}"] for n in CASES],
        )
    )
    print(f"tgo_async adds {extra:.1f} ms over its dependencies (goal <= 20 ms)")
    payload = {"runs": args.runs, "times_ms": times, "median_ms": med, "extra_ms": extra}
    write_json("import_time", payload)
    return payload


if __name__ == "__main__":
    main()
