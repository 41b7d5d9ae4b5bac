"""Build the Problem Set 2 write-up: results.json, then report.pdf and report.html from it.

Runs every question's stages (derivations, numeric checks, experiments), writes results.json,
and renders the report (report.tex -> report.pdf, report.html) from that file alone.

    python build.py                  # everything -> build/results.json, build/report.{tex,pdf,html}
    python build.py --quick          # small settings: a draft (marked DRAFT on the title page)
    python build.py --only q4e       # one question (and the questions it needs)
    python build.py --force          # re-run every stage, ignoring the cache
    python build.py --out DIR --device auto|cpu|cuda --data-dir DIR --no-pdf --seed N

A stage whose code, configuration and libraries are unchanged is taken from <out>/cache
(`report.cache`); a stage whose needed stage failed to run is not run (it fails, naming it).
Exit status: 0 the report passed; 1 the report failed: a check failed, a stage raised, a
question has no checks or a figure is missing (the report shows which); 2 bad arguments, or
another build is writing to --out; 3 the report could not be rendered or its PDF not compiled.
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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from numeric.datasets import DataError, resolve_data_dir
from numeric.files import write_json_atomic
from report import cache as stage_cache

if TYPE_CHECKING:  # registry imports torch, scipy and matplotlib: loaded after the arguments parse
    from derivations.core import Context
    from registry import Question

PROBLEM_SET = {"title": "Problem Set 2", "subtitle": "EE 148a, Winter 2026", "source": "problem-set/ps2.md"}
EXIT_FAILED_CHECKS, EXIT_USAGE, EXIT_REPORT = 1, 2, 3
EXIT_STATUS = (  # the module docstring and docs/schema/build.md say the same (a test compares them)
    "0 the report passed; 1 the report failed: a check failed, a stage raised, a question has no "
    "checks or a figure is missing (the report shows which); 2 bad arguments, or another build is "
    "writing to --out; 3 the report could not be rendered or its PDF not compiled"
)


def parse_args(argv: list[str] | None = None, questions: Sequence[Question] | None = None) -> argparse.Namespace:
    """The command line, checked; ``questions`` default to the registry's (imported only once the
    arguments parse, so ``--help`` and plain usage errors are quick). Adds ``questions``,
    ``device_used`` and ``device_name`` to the namespace."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=f"exit status: {EXIT_STATUS}.")
    ap.add_argument("--quick", action="store_true", help="small settings: a draft in a few minutes")
    ap.add_argument("--out", default="build", type=Path, help="output folder for everything (default: build/)")
    ap.add_argument("--data-dir", default=None, help="folder holding mnist/ and shakespeare/ (else $PS2_DATA)")
    ap.add_argument("--only", action="append", metavar="QID",
                    help="run only this question and what it needs: an id of registry.py, e.g. q4e; repeatable")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="torch device (default: auto)")
    ap.add_argument("--seed", default=42, type=int, help="random seed of every stage (default: 42)")
    ap.add_argument("--force", action="store_true", help="re-run every stage, ignoring the cache")
    ap.add_argument("--no-pdf", action="store_true", help="write report.tex and report.html, skip the PDF")
    args = ap.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        ap.error(f"--out {args.out} exists and is not a folder")
    if questions is None:
        import registry

        questions = registry.QUESTIONS
    ids = [q.id for q in questions]
    for qid in args.only or []:
        if qid not in ids:
            ap.error(f"argument --only: invalid choice: {qid!r} (choose from {', '.join(ids)})")
    args.questions = tuple(questions)
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


def select(questions: Sequence[Question], only: list[str] | None) -> list[Question]:
    """The ``questions`` to run, in their order: ``only`` and, transitively, what they need."""
    if not only:
        return list(questions)
    by_id = {q.id: q for q in questions}
    wanted, todo = set(), list(only)
    while todo:
        qid = todo.pop()
        if qid not in wanted:
            wanted.add(qid)
            todo.extend(by_id[qid].needs)
    return [q for q in questions if q.id in wanted]


def failed_section(qid: str, name: str, detail: str) -> dict[str, Any]:
    """The section of a stage that could not give its own: one failed check saying why."""
    from derivations.core import Check, Section

    return Section(checks=[Check(f"{qid}: {name}", False, float("inf"), 0.0, detail)]).to_json()


@dataclass
class StageRun:
    """One question's stage in this build."""

    section: dict[str, Any]  # the section JSON that goes into results.json
    how: str  # "ran"; "cached"; "error": it raised or its section could not be stored; "skipped": a needed stage failed
    seconds: float  # this build's time on it (taking it from the cache: loading the entry)
    ran_seconds: float  # how long computing the section took, when it was computed
    ran_at: str  # when it was computed (ISO 8601; "" for an entry from before the cache recorded it)
    entry: dict[str, Any] | None = None  # its cache entry (key, artifacts); None unless ran or cached

    @property
    def produced(self) -> bool:
        """Whether it made its section (and files), so the questions that need it can run."""
        return self.how in ("ran", "cached")


def run_stage(q: Question, ctx: Context, store: stage_cache.StageCache, key: str, force: bool) -> StageRun:
    """One question from the cache or run; errors are not cached, so the next build tries again."""
    t0 = time.perf_counter()
    entry = None if force else store.load(q.id, key)
    if entry is not None:
        return StageRun(entry["section"], "cached", time.perf_counter() - t0, float(entry["seconds"]),
                        str(entry.get("ran_at", "")), entry)
    before = stage_cache.snapshot(ctx.out_dir)
    ran_at = stage_cache.now()
    t0 = time.perf_counter()
    try:
        section = q.run(ctx).to_json()
    except Exception as exc:  # a failing stage is reported, and the other stages still run
        seconds = time.perf_counter() - t0
        detail = str(exc) if isinstance(exc, DataError) else traceback.format_exc(limit=-3)
        tqdm.write(f"{q.id}: {type(exc).__name__}: {detail}", file=sys.stderr)
        return StageRun(failed_section(q.id, f"the stage raised {type(exc).__name__}", str(exc)), "error",
                        seconds, seconds, ran_at)
    seconds = time.perf_counter() - t0
    try:
        entry = store.store(q.id, key, section, seconds, before)
    except Exception as exc:  # e.g. a value JSON cannot hold: results.json could not hold it either
        tqdm.write(f"{q.id}: its section could not be stored: {type(exc).__name__}: {exc}", file=sys.stderr)
        name = f"the stage's section could not be stored ({type(exc).__name__})"
        return StageRun(failed_section(q.id, name, str(exc)), "error", seconds, seconds, ran_at)
    return StageRun(section, "ran", seconds, seconds, str(entry.get("ran_at", ran_at)), entry)


def skipped_stage(q: Question, need: str, why: str) -> StageRun:
    """A question not run because ``need``, whose files it reads, did not produce them here."""
    detail = (f"{q.id} reads the files {need} writes; as {need} {why} in this build, {q.id} was not run "
              f"(files an earlier build left are not evidence)")
    return StageRun(failed_section(q.id, f"needs {need}, which {why}", detail), "skipped", 0.0, 0.0, "")


def build_info(args: argparse.Namespace, versions: dict[str, str]) -> dict[str, Any]:
    return {
        "problem_set": PROBLEM_SET,
        "date": dt.date.today().isoformat(),
        # every question of the problem set, so a partial (--only) report can say what it leaves out
        "questions": [{"id": q.id, "title": q.title, "needs": list(q.needs)} for q in args.questions],
        "config": {"quick": bool(args.quick), "device": args.device, "data_dir": str(args.data_dir),
                   "out": str(args.out), "only": args.only, "force": bool(args.force), "pdf": not args.no_pdf},
        "seeds": {"seed": args.seed},
        "versions": versions,
        "device": {"used": args.device_used, "name": args.device_name},  # requested: config.device
    }


def summary(runs: dict[str, StageRun], failed: dict[str, list[str]], report_s: float, wall: float) -> str:
    """The table printed at the end: each stage's verdict (the report's), how and this build's seconds."""
    lines = [f"{'stage':8s} {'result':7s} {'how':8s} {'seconds':>8s}"]
    for qid, r in runs.items():
        note = f"  (ran in {r.ran_seconds:.1f} s, {r.ran_at or 'in an earlier build'})" if r.how == "cached" else ""
        lines.append(f"{qid:8s} {'FAILED' if qid in failed else 'ok':7s} {r.how:8s} {r.seconds:8.1f}{note}")
    lines.append(f"{'report':8s} {'':7s} {'':8s} {report_s:8.1f}")
    lines.append(f"{'total':8s} {'':7s} {'':8s} {wall:8.1f}  (this build's wall time, after interpreter start-up)")
    return "\n".join(lines)


class OutLocked(RuntimeError):
    """Another build holds the out folder."""


def lock_out_dir(out: Path):
    """Hold an exclusive lock on ``out`` for this build (two builds must not interleave their
    writes); returns the open lock file, or None where file locks are unavailable. Raises
    `OutLocked` when another build holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, as before
        return None
    handle = open(out / ".build.lock", "w")  # held open for the whole build
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise OutLocked(f"another build is writing to {out}; wait for it, or use another --out") from None
    return handle


def main(argv: list[str] | None = None, questions: Sequence[Question] | None = None) -> int:
    """Run the build; returns the exit status (see the module docstring). ``questions`` replace
    the registry's (tests)."""
    t_start = time.perf_counter()
    args = parse_args(argv, questions)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    try:
        lock = lock_out_dir(out)  # noqa: F841  (released when the process ends)
    except OutLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from derivations.core import Context
    from report.compile import LatexError
    from report.render import render

    ctx = Context(
        out_dir=out, data_dir=args.data_dir, quick=args.quick, device=args.device_used, seed=args.seed,
        force=args.force,
    )
    selected = select(args.questions, args.only)
    versions = stage_cache.library_versions()
    data = stage_cache.data_identity(args.data_dir)
    store = stage_cache.StageCache(out)
    sources = stage_cache.SourceIndex()
    info = build_info(args, versions)
    runs: dict[str, StageRun] = {}
    t_stages = time.perf_counter()
    bar = tqdm(total=len(selected), unit="stage", disable=None, leave=False, file=sys.stderr)
    for q in selected:
        bar.set_description(f"{q.id} {q.title[:40]}")
        blocked = next((n for n in q.needs if not runs[n].produced), None)
        if blocked is not None:
            why = "raised" if runs[blocked].how == "error" else "was not run"
            runs[q.id] = skipped_stage(q, blocked, why)
        else:
            needs = {n: stage_cache.needed(runs[n].entry) for n in q.needs}
            key = stage_cache.stage_key(q, ctx, versions, data, needs, sources=sources)
            runs[q.id] = run_stage(q, ctx, store, key, args.force)
        r = runs[q.id]
        verdict = "ok" if r.section["passed"] else "FAILED"
        took = f"cached (ran in {r.ran_seconds:.1f} s)" if r.how == "cached" else f"{r.how} in {r.seconds:.1f} s"
        tqdm.write(f"{q.id:6s} {verdict:6s} {took:24s}  {q.title}")
        bar.update()
    bar.close()
    results: dict[str, Any] = {qid: r.section for qid, r in runs.items()}
    info["stage_seconds"] = {qid: round(r.ran_seconds, 3) for qid, r in runs.items()}
    info["ran_at"] = {qid: r.ran_at for qid, r in runs.items()}
    info["cache"] = {qid: r.how for qid, r in runs.items()}
    info["stages_wall_seconds"] = round(time.perf_counter() - t_stages, 3)
    results["build"] = info
    write_json_atomic(out / "results.json", results)
    t0 = time.perf_counter()
    try:
        done = render(out / "results.json", pdf=not args.no_pdf, force=args.force)
    except LatexError as exc:
        print(f"error: the PDF could not be built: {exc}", file=sys.stderr)
        print(f"report.tex and report.html were written to {out}; there is no report.pdf", file=sys.stderr)
        return EXIT_REPORT
    except Exception as exc:  # a bug or a results.json the templates cannot render: say so, exit 3
        print(f"error: the report could not be rendered from {out / 'results.json'}: {type(exc).__name__}: "
              f"{exc}\n{traceback.format_exc(limit=-3)}", file=sys.stderr)
        return EXIT_REPORT
    for note in done.notes:
        print(note)
    print(summary(runs, done.failed, time.perf_counter() - t0, time.perf_counter() - t_start))
    wrote = [done.tex, done.html] + ([done.pdf] if done.pdf else [])
    print("wrote " + ", ".join(str(p) for p in wrote) + f", {out / 'results.json'}")
    if not done.passed:
        for qid, problems in done.failed.items():
            names = [c["name"] for c in runs[qid].section["checks"] if not c["passed"]] if qid in runs else []
            shown = f" ({'; '.join(names[:3])}{'; ...' if len(names) > 3 else ''})" if names else ""
            print(f"FAILED {qid}: {'; '.join(problems)}{shown}")
        if not done.failed:
            print("FAILED: the report holds no question")
        return EXIT_FAILED_CHECKS
    return 0


if __name__ == "__main__":
    sys.exit(main())
