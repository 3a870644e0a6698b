"""`verifix bench sandbox`: the sandbox's throughput and latency, measured against plain Python.

1. Checks/s of Sandbox.run_checks (a small function, 10 checks per call, many calls) against a
   fresh `python -c` process per check, alternating in rounds within one run (the machine is
   noisy: compare within the run). Goal: >= 100 checks/s.
2. Milliseconds of run_project_tests on a generated 20-test project against plain
   `python -m pytest` on the same project, alternating in the same run.

Also runnable as `python -m verifix.bench.sandbox_speed`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from verifix.sandbox import Sandbox

CODE = '''
def normalize(words):
    """Lower-case, strip and de-duplicate, keeping the first occurrence."""
    seen = set()
    out = []
    for word in words:
        w = word.strip().lower()
        if w and w not in seen:
            seen.add(w)
            out.append(w)
    return out
'''
CHECKS = [
    "assert normalize([]) == []",
    "assert normalize(['A']) == ['a']",
    "assert normalize(['a', 'A']) == ['a']",
    "assert normalize([' b ', 'B']) == ['b']",
    "assert normalize(['', ' ']) == []",
    "assert normalize(['x', 'y', 'x']) == ['x', 'y']",
    "assert normalize(['Hello', 'WORLD']) == ['hello', 'world']",
    "normalize(['q'] * 100)",
    "assert len(normalize([str(i) for i in range(50)])) == 50",
    "assert normalize(['Z', 'z', 'Z ']) == ['z']",
]
TESTS_IN_PROJECT = 20


def _fresh_python_check(check: str) -> bool:
    done = subprocess.run([sys.executable, "-c", f"{CODE}\n{check}\n"], capture_output=True,
                          timeout=60, check=False)
    return done.returncode == 0


def bench_checks(sandbox: Sandbox, calls: int, baseline_checks: int, rounds: int) -> dict[str, Any]:
    sandbox.run_checks(CODE, CHECKS)  # start the worker: steady state is what is measured
    ours_s = theirs_s = 0.0
    ours_n = theirs_n = 0
    failures = 0
    for r in range(rounds):
        start = time.perf_counter()
        for _ in range(calls // rounds):
            report = sandbox.run_checks(CODE, CHECKS)
            failures += 0 if report.passed else 1
            ours_n += len(CHECKS)
        ours_s += time.perf_counter() - start
        start = time.perf_counter()
        for i in range(baseline_checks // rounds):
            failures += 0 if _fresh_python_check(CHECKS[(r + i) % len(CHECKS)]) else 1
            theirs_n += 1
        theirs_s += time.perf_counter() - start
    return {
        "checks": ours_n,
        "checks_per_s": ours_n / ours_s,
        "baseline_checks": theirs_n,
        "baseline_checks_per_s": theirs_n / theirs_s,
        "failures": failures,
    }


def make_project(root: Path, tests: int = TESTS_IN_PROJECT) -> list[str]:
    """A small package and `tests` tests of it; returns their node ids."""
    (root / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "ops.py").write_text(
        "def scale(x, k):\n    return x * k\n\n\ndef clamp(x, lo, hi):\n"
        "    return max(lo, min(hi, x))\n")
    lines = ["from calc.ops import clamp, scale", ""]
    ids = []
    for i in range(tests):
        lines += [f"def test_case_{i}():", f"    assert scale({i}, 3) == {3 * i}",
                  f"    assert clamp({i}, 2, 10) == {max(2, min(10, i))}", "", ""]
        ids.append(f"tests/test_ops.py::test_case_{i}")
    (root / "tests" / "test_ops.py").write_text("\n".join(lines))
    return ids


def bench_project(sandbox: Sandbox, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="verifix-bench-") as tmp:
        root = Path(tmp) / "project"
        ids = make_project(root)
        start = time.perf_counter()
        first = sandbox.run_project_tests(root, {}, ids)
        cold_ms = (time.perf_counter() - start) * 1000
        ours: list[float] = []
        theirs: list[float] = []
        failures = 0 if first.passed else 1
        for _ in range(repeats):
            start = time.perf_counter()
            report = sandbox.run_project_tests(root, {}, ids)
            ours.append((time.perf_counter() - start) * 1000)
            failures += 0 if report.passed else 1
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                   *ids], cwd=root, capture_output=True, timeout=300, check=False)
            theirs.append((time.perf_counter() - start) * 1000)
            failures += 0 if done.returncode == 0 else 1
    return {"tests": len(ids), "cold_ms": cold_ms, "ms": ours, "baseline_ms": theirs,
            "failures": failures}


def markdown(isolation: str, checks: dict[str, Any], project: dict[str, Any]) -> str:
    ours, theirs = checks["checks_per_s"], checks["baseline_checks_per_s"]
    p_ours, p_theirs = statistics.median(project["ms"]), statistics.median(project["baseline_ms"])
    return "\n".join([
        f"sandbox benchmark: isolation {isolation}, {len(CHECKS)} checks per call",
        "",
        "| measure | verifix sandbox | baseline | ratio | goal |",
        "|---|---|---|---|---|",
        f"| checks/s, small function ({checks['checks']} vs {checks['baseline_checks']} checks) "
        f"| {ours:.0f} | {theirs:.1f} (fresh `python -c` per check) | {ours / theirs:.1f}x "
        "| >= 100 checks/s |",
        f"| run_project_tests, {project['tests']} tests, median ms "
        f"({len(project['ms'])} runs) | {p_ours:.0f} | {p_theirs:.0f} (`python -m pytest`) "
        f"| {p_theirs / p_ours:.1f}x faster | - |",
        f"| run_project_tests, first call (worker start, pytest warm-up), ms "
        f"| {project['cold_ms']:.0f} | - | - | - |",
        "",
        f"failed runs (should be 0): {checks['failures'] + project['failures']}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verifix bench sandbox", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--calls", type=int, default=200, help="run_checks calls (10 checks each)")
    parser.add_argument("--baseline-checks", type=int, default=60,
                        help="checks run as a fresh python process each")
    parser.add_argument("--rounds", type=int, default=4, help="alternations of the two sides")
    parser.add_argument("--project-repeats", type=int, default=5)
    parser.add_argument("--allow-weak", action="store_true",
                        help="measure rlimits-only isolation when bubblewrap is unusable")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    args = parser.parse_args(argv)
    rounds = max(1, min(args.rounds, args.calls, args.baseline_checks))

    with Sandbox(timeout_s=10, memory_mb=1024, allow_weak=args.allow_weak) as sandbox:
        checks = bench_checks(sandbox, args.calls, args.baseline_checks, rounds)
        project = bench_project(sandbox, args.project_repeats)
        isolation = sandbox.isolation
    print(markdown(isolation, checks, project))
    if args.json:
        print(json.dumps({"isolation": isolation, "checks": checks, "project": project},
                         indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
