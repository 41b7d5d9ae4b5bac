"""Benchmark: the time to build and verify every derivation of the problem set (target <= 30 s on 2 cores).

    python benchmarks/bench_derivations.py            # the full build's derivations
    python benchmarks/bench_derivations.py --quick    # the draft's (smaller concrete sizes)

Only the derivation parts of each question run (the part functions defined in modules under
``derivations.``), each with a Context in a temporary folder; then every derivation they return
is verified (`Derivation.verify`). Prints seconds per question (build, verify) and the total.
A benchmark, not a test: it reports failing steps but its exit code only says whether it ran.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from derivations.core import Context  # noqa: E402
from numeric.datasets import resolve_data_dir  # noqa: E402
from registry import QUESTIONS  # noqa: E402

TARGET_S = 30.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the draft build's settings")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(out_dir=Path(tmp), data_dir=resolve_data_dir(), quick=args.quick, device="cpu")
        for q in QUESTIONS:
            parts = [p for p in q.parts if p.__module__.startswith("derivations.")]
            if not parts:
                continue
            t0 = time.perf_counter()
            sections = [part(ctx) for part in parts]
            t1 = time.perf_counter()
            checks = [c for sec in sections for d in sec.derivations for c in d.verify()]
            t2 = time.perf_counter()
            failed = sum(not c.passed for c in checks)
            rows.append((q.id, t1 - t0, t2 - t1, len(checks), failed))
    print(f"{'question':10s} {'build s':>8s} {'verify s':>9s} {'total s':>8s} {'steps':>6s} {'failed':>6s}")
    for qid, build, verify, steps, failed in rows:
        print(f"{qid:10s} {build:8.2f} {verify:9.2f} {build + verify:8.2f} {steps:6d} {failed:6d}")
    total = sum(r[1] + r[2] for r in rows)
    n_failed = sum(r[4] for r in rows)
    print(
        f"{'total':10s} {sum(r[1] for r in rows):8.2f} {sum(r[2] for r in rows):9.2f} {total:8.2f}"
        f" {sum(r[3] for r in rows):6d} {n_failed:6d}"
    )
    verdict = "meets" if total <= TARGET_S else "misses"
    print(
        f"time to verify all derivations: {total:.1f} s ({'quick' if args.quick else 'full'} settings);"
        f" target <= {TARGET_S:.0f} s on 2 cores: {verdict} it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
