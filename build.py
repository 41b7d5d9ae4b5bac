"""Build the Problem Set 2 write-up: run every question's stages, write build/results.json.

    python build.py            # everything
    python build.py --quick    # small settings, a draft
    python build.py --only q2a # one question (and what it needs)

Thin orchestrator: registry -> run -> results.json. No math and no markup here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from derivations.core import Context
from numeric.datasets import resolve_data_dir
from registry import BY_ID, QUESTIONS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small settings: a draft")
    ap.add_argument("--out", default="build", help="output folder (default: build/)")
    ap.add_argument("--data-dir", default=None, help="folder holding mnist/ and shakespeare/")
    ap.add_argument("--only", action="append", choices=sorted(BY_ID), help="run only this question")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return ap.parse_args(argv)


def write_json_atomic(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    ctx = Context(out_dir=out, data_dir=resolve_data_dir(args.data_dir), quick=args.quick, device="cpu")
    selected = [q for q in QUESTIONS if not args.only or q.id in args.only]
    results: dict[str, object] = {}
    seconds: dict[str, float] = {}
    for q in selected:
        t0 = time.perf_counter()
        results[q.id] = q.run(ctx).to_json()
        seconds[q.id] = time.perf_counter() - t0
        status = "ok" if results[q.id]["passed"] else "FAILED"
        print(f"{q.id:6s} {status:6s} {seconds[q.id]:7.1f} s  {q.title}")
    results["build"] = {"quick": args.quick, "stage_seconds": seconds}
    write_json_atomic(out / "results.json", results)
    return 0 if all(results[q.id]["passed"] for q in selected) else 1


if __name__ == "__main__":
    sys.exit(main())
