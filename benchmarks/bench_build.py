"""Benchmark: a second ``python build.py --quick`` with nothing changed takes every stage from the
cache (target < 15 s on 2 cores), against the first build in the same folder as the baseline.

    python benchmarks/bench_build.py            # with the PDF
    python benchmarks/bench_build.py --no-pdf   # .tex and .html only

Runs ``build.py --quick`` twice in a temporary out folder from a snapshot of the source (so edits
made meanwhile cannot invalidate the cache), each as a fresh process (start-up and imports
included, as a user sees it), and prints both wall times, their ratio and how many stages
the second run took from the cache. The target is judged only when both builds finished (exit 0
or 1: 1 while some check fails, which is reported, not judged) and the second took every stage
from the cache; otherwise the run does not measure what the target is about, and it exits 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from numeric.datasets import resolve_data_dir  # noqa: E402

TARGET_S = 15.0


def _run(repo: Path, out: Path, extra: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "build.py", "--quick", "--out", str(out), *extra], cwd=repo,
                          capture_output=True, text=True)
    return time.perf_counter() - t0, proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-pdf", action="store_true", help="skip the LaTeX compile in both runs")
    args = ap.parse_args(argv)
    extra = ["--no-pdf"] if args.no_pdf else []
    with tempfile.TemporaryDirectory() as tmp:
        repo = shutil.copytree(ROOT, Path(tmp) / "repo", ignore=shutil.ignore_patterns(
            ".git", "build", "__pycache__", "*.pyc", ".hypothesis", ".benchmarks", ".venv"))
        out = Path(tmp) / "build"
        extra += ["--data-dir", str(resolve_data_dir())]
        first, rc1 = _run(repo, out, extra)
        second, rc2 = _run(repo, out, extra)
        results = out / "results.json"
        cache = json.loads(results.read_text())["build"]["cache"] if results.is_file() else {}
    hits = sum(v == "cached" for v in cache.values())
    print(f"first build   {first:7.1f} s  (exit {rc1})")
    print(f"second build  {second:7.1f} s  (exit {rc2}); {hits} of {len(cache)} stages from the cache")
    invalid = [f"build {n} exited {rc} (not 0 or 1: it did not finish)" for n, rc in ((1, rc1), (2, rc2)) if rc not in (0, 1)]
    if not cache or hits != len(cache):
        invalid.append(f"the second build took {hits} of {len(cache)} stages from the cache, not all")
    if invalid:
        print("target not judged: " + "; ".join(invalid))
        return 1
    print(f"second / first = {second / first:.3f}; target: second < {TARGET_S:.0f} s -> "
          f"{'met' if second < TARGET_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
