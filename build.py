"""Build the Problem Set 2 write-up: results.json, then report.pdf and report.html from it.

Runs every question's stages (derivations, numeric checks, experiments), writes results.json,
and renders the report (report.tex -> report.pdf, report.html) from that file alone.

    python build.py                  # everything -> build/results.json, build/report.{tex,pdf,html}
    python build.py --quick          # small settings: a draft (marked DRAFT on the title page)
    python build.py --only q4e       # one question (and the questions it needs)
    python build.py --force          # re-run every stage, ignoring the cache
    python build.py --out DIR --device auto|cpu|cuda --data-dir DIR --no-pdf --seed N

A stage whose code, configuration and libraries are unchanged is taken from <out>/cache
(`report.cache`). Exit status: 0 all checks passed; 1 some check failed (the report shows which);
2 bad arguments; 3 the report could not be rendered or compiled.
Thin orchestrator: registry -> run (or cache) -> results.json -> render -> compile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tqdm import tqdm

from derivations.core import Check, Context, Section
from numeric.datasets import DataError, resolve_data_dir
from numeric.files import write_json_atomic
from registry import BY_ID, QUESTIONS, Question
from report import cache as stage_cache
from report.compile import LatexError
from report.render import render

PROBLEM_SET = {"title": "Problem Set 2", "subtitle": "EE 148a, Winter 2026", "source": "problem-set/ps2.md"}
EXIT_FAILED_CHECKS, EXIT_USAGE, EXIT_REPORT = 1, 2, 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="exit status: 0 all checks passed, 1 a check failed, 2 bad arguments, 3 the PDF failed to compile",
    )
    ap.add_argument("--quick", action="store_true", help="small settings: a draft in a few minutes")
    ap.add_argument("--out", default="build", type=Path, help="output folder for everything (default: build/)")
    ap.add_argument("--data-dir", default=None, help="folder holding mnist/ and shakespeare/ (else $PS2_DATA)")
    ap.add_argument("--only", action="append", choices=list(BY_ID), metavar="QID",
                    help=f"run only this question and what it needs; one of {', '.join(BY_ID)}; repeatable")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="torch device (default: auto)")
    ap.add_argument("--seed", default=42, type=int, help="random seed of every stage (default: 42)")
    ap.add_argument("--force", action="store_true", help="re-run every stage, ignoring the cache")
    ap.add_argument("--no-pdf", action="store_true", help="write report.tex and report.html, skip the PDF")
    args = ap.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        ap.error(f"--out {args.out} exists and is not a folder")
    try:
        args.data_dir = resolve_data_dir(args.data_dir)
    except DataError as exc:
        ap.error(str(exc))
    args.device_used, args.device_name = resolve_device(args.device, ap)
    return args


def resolve_device(requested: str, ap: argparse.ArgumentParser) -> tuple[str, str]:
    """``auto`` -> cuda if available else cpu; ``cuda`` without CUDA is an error."""
    import torch

    has_cuda = torch.cuda.is_available()
    if requested == "cuda" and not has_cuda:
        ap.error("--device cuda: CUDA is not available here (torch.cuda.is_available() is False); use --device cpu or auto")
    used = "cuda" if requested == "cuda" or (requested == "auto" and has_cuda) else "cpu"
    name = torch.cuda.get_device_name(0) if used == "cuda" else cpu_name()
    return used, name


def cpu_name() -> str:
    """The CPU's model name and core count (Linux: /proc/cpuinfo), for the record."""
    model = platform.processor() or platform.machine() or "cpu"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def select(only: list[str] | None) -> list[Question]:
    """The questions to run, in registry order: ``only`` and, transitively, what they need."""
    if not only:
        return list(QUESTIONS)
    wanted, todo = set(), list(only)
    while todo:
        qid = todo.pop()
        if qid not in wanted:
            wanted.add(qid)
            todo.extend(BY_ID[qid].needs)
    return [q for q in QUESTIONS if q.id in wanted]


def failed_section(qid: str, exc: BaseException) -> dict[str, Any]:
    """The section of a stage that raised: one failed check that says what went wrong."""
    check = Check(f"{qid}: the stage raised {type(exc).__name__}", False, float("inf"), 0.0, str(exc))
    return Section(checks=[check]).to_json()


def run_stage(q: Question, ctx: Context, store: stage_cache.StageCache, key: str, force: bool) -> tuple[dict[str, Any], float, str]:
    """``(section JSON, seconds, how)`` for one question: from the cache ("cached") or run ("ran",
    "error" when a part raised; errors are not cached, so the next build tries again)."""
    entry = None if force else store.load(q.id, key)
    if entry is not None:
        return entry["section"], float(entry["seconds"]), "cached"
    before = stage_cache.snapshot(ctx.out_dir)
    t0 = time.perf_counter()
    try:
        section = q.run(ctx).to_json()
    except Exception as exc:  # a failing stage is reported, and the other stages still run
        seconds = time.perf_counter() - t0
        detail = str(exc) if isinstance(exc, DataError) else traceback.format_exc(limit=-3)
        tqdm.write(f"{q.id}: {type(exc).__name__}: {detail}", file=sys.stderr)
        return failed_section(q.id, exc), seconds, "error"
    seconds = time.perf_counter() - t0
    store.store(q.id, key, section, seconds, before)
    return section, seconds, "ran"


def build_info(args: argparse.Namespace, versions: dict[str, str]) -> dict[str, Any]:
    return {
        "problem_set": PROBLEM_SET,
        "date": dt.date.today().isoformat(),
        # every question of the problem set, so a partial (--only) report can say what it leaves out
        "questions": [{"id": q.id, "title": q.title, "needs": list(q.needs)} for q in QUESTIONS],
        "quick": bool(args.quick),
        "only": args.only,
        "config": {"quick": bool(args.quick), "device": args.device, "data_dir": str(args.data_dir),
                   "out": str(args.out), "only": args.only, "force": bool(args.force), "pdf": not args.no_pdf},
        "seeds": {"seed": args.seed},
        "versions": versions,
        "device": {"requested": args.device, "used": args.device_used, "name": args.device_name},
    }


def summary(rows: list[tuple[str, str, float, str]], extra: list[tuple[str, float]], wall: float) -> str:
    lines = [f"{'stage':8s} {'result':7s} {'how':7s} {'seconds':>8s}"]
    lines += [f"{qid:8s} {res:7s} {how:7s} {sec:8.1f}" for qid, res, sec, how in rows]
    lines += [f"{name:8s} {'':7s} {'':7s} {sec:8.1f}" for name, sec in extra]
    lines.append(f"{'total':8s} {'':7s} {'':7s} {wall:8.1f}  (after start-up and imports)")
    return "\n".join(lines)


def lock_out_dir(out: Path):
    """Hold an exclusive lock on ``out`` for this build (two builds must not interleave their
    writes); returns the open lock file, or None where file locks are unavailable."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        return None
    handle = open(out / ".build.lock", "w")  # held open for the whole build
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise SystemExit(f"error: another build is writing to {out}; wait for it, or use another --out") from None
    return handle


def main(argv: list[str] | None = None) -> int:
    t_start = time.perf_counter()
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    lock = lock_out_dir(out)  # noqa: F841  (released when the process ends)
    ctx = Context(
        out_dir=out, data_dir=args.data_dir, quick=args.quick, device=args.device_used, seed=args.seed,
        force=args.force,
    )
    selected = select(args.only)
    versions = stage_cache.library_versions()
    data = stage_cache.data_identity(args.data_dir)
    store = stage_cache.StageCache(out)
    results: dict[str, Any] = {}
    info = build_info(args, versions)
    keys: dict[str, str] = {}
    rows = []
    bar = tqdm(total=len(selected), unit="stage", disable=None, leave=False, file=sys.stderr)
    for q in selected:
        bar.set_description(f"{q.id} {q.title[:40]}")
        keys[q.id] = stage_cache.stage_key(q, ctx, versions, data, {n: keys[n] for n in q.needs})
        results[q.id], seconds, how = run_stage(q, ctx, store, keys[q.id], args.force)
        verdict = "ok" if results[q.id]["passed"] else "FAILED"
        rows.append((q.id, verdict, seconds, how))
        tqdm.write(f"{q.id:6s} {verdict:6s} {seconds:7.1f} s  {how:6s}  {q.title}")
        bar.update()
    bar.close()
    info["stage_seconds"] = {qid: round(sec, 3) for qid, _, sec, _ in rows}
    info["cache"] = {qid: how for qid, _, _, how in rows}
    results["build"] = info
    write_json_atomic(out / "results.json", results)
    t0 = time.perf_counter()
    try:
        done = render(out / "results.json", pdf=not args.no_pdf, force=args.force)
    except LatexError as exc:
        print(f"error: the PDF could not be built: {exc}", file=sys.stderr)
        return EXIT_REPORT
    extra = [("report", time.perf_counter() - t0)]
    for note in done.notes:
        print(note)
    print(summary(rows, extra, time.perf_counter() - t_start))
    wrote = [done.tex, done.html] + ([done.pdf] if done.pdf else [])
    print("wrote " + ", ".join(str(p) for p in wrote) + f", {out / 'results.json'}")
    failed = [qid for qid, verdict, _, _ in rows if verdict != "ok"]
    if failed:
        print(f"FAILED checks in: {', '.join(failed)} (see the report's Checks tables)")
        return EXIT_FAILED_CHECKS
    return 0


if __name__ == "__main__":
    sys.exit(main())
