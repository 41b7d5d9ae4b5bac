"""build.py: argument errors are clear, --only pulls in what a question needs, a second build takes
every stage from the cache, --force re-runs, a stage whose needed stage failed is not run, failures
(checks, exceptions, no checks, LaTeX, rendering) set the exit code.

The stages here are small fakes put in place of the registry, so these tests are fast and do not
depend on the question modules."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import build
from derivations.core import Check, Context, Section
from numeric.plotting import new_figure, save_figure
from registry import BY_ID, QUESTIONS, Question
from report.compile import tex_available

CALLS: list[str] = []


def good(ctx: Context) -> Section:
    CALLS.append("good")
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return Section(
        answers={"value": 0.5},
        checks=[Check("exact", True, 0.0, 1e-10, "a check that holds")],
        figures={"line": save_figure(fig, ctx, "qa", "line", "A line")},
        text={"answer": f"The value is ${0.5}$ (quick={ctx.quick})."},
    )


def needy(ctx: Context) -> Section:
    CALLS.append("needy")
    return Section(checks=[Check("needs qa", True, 0.0, 0.0, "reads qa's figure")])


def bad(ctx: Context) -> Section:
    CALLS.append("bad")
    return Section(checks=[Check("wrong", False, 0.5, 1e-10, "a check that fails")])


def boom(ctx: Context) -> Section:
    CALLS.append("boom")
    raise RuntimeError("the data is not there")


def interrupted(ctx: Context) -> Section:
    CALLS.append("interrupted")
    raise KeyboardInterrupt


def bad_latex(ctx: Context) -> Section:
    return Section(checks=[Check("ok", True, 0.0, 0.0, "")], text={"answer": r"broken math $\undefinedmacro x$"})


def _questions(*spec) -> tuple[Question, ...]:
    CALLS.clear()
    return tuple(Question(qid, title, parts, needs) for qid, title, parts, needs in spec)


def _run(out: Path, qs: tuple[Question, ...], *args: str) -> tuple[int, dict]:
    rc = build.main(["--out", str(out), "--no-pdf", "--device", "cpu", *args], questions=qs)
    return rc, json.loads((out / "results.json").read_text())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "q9z"], "invalid choice: 'q9z'"),
        (["--device", "gpu"], "invalid choice: 'gpu'"),
        (["--data-dir", "/no/such/folder"], "--data-dir /no/such/folder is not a directory"),
        (["--seed", "many"], "invalid int value"),
    ],
)
def test_bad_arguments_get_a_clear_error(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        build.parse_args(argv)
    assert info.value.code == build.EXIT_USAGE and message in capsys.readouterr().err


def test_help_is_quick_it_does_not_import_the_registry():
    import subprocess
    import sys

    code = "import sys, build\ntry:\n    build.parse_args(['--help'])\nexcept SystemExit:\n    pass\nprint(sorted(m for m in ('registry', 'torch', 'matplotlib', 'scipy', 'report.render') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(build.__file__).parent, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr
    assert "exit status: 0 the report passed" in proc.stdout


def test_the_exit_codes_read_the_same_in_the_help_the_docstring_and_the_docs():
    docs = (Path(build.__file__).parent / "docs" / "schema" / "build.md").read_text(encoding="utf-8")
    flat = " ".join(build.EXIT_STATUS.split())
    assert flat in " ".join(build.__doc__.split()) and flat in " ".join(docs.split())


def test_out_must_be_a_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit):
        build.parse_args(["--out", str(tmp_path / "file")])
    assert "is not a folder" in capsys.readouterr().err


def test_cuda_without_cuda_is_a_clear_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(SystemExit):
        build.parse_args(["--device", "cuda"])
    assert "CUDA is not available" in capsys.readouterr().err
    assert build.parse_args(["--device", "auto"]).device_used == "cpu"


def test_a_second_build_into_the_same_folder_at_once_is_refused(tmp_path, capsys):
    held = build.lock_out_dir(tmp_path)
    if held is None:
        pytest.skip("no file locks here")
    with pytest.raises(build.OutLocked, match="another build is writing"):
        build.lock_out_dir(tmp_path)
    qs = _questions(("qa", "1A First", (good,), ()))
    assert build.main(["--out", str(tmp_path), "--no-pdf", "--device", "cpu"], questions=qs) == build.EXIT_USAGE
    assert "error: another build is writing" in capsys.readouterr().err and CALLS == []
    held.close()
    build.lock_out_dir(tmp_path).close()  # free again once the first build is done


def test_only_runs_a_question_with_what_it_needs_in_order():
    assert [q.id for q in build.select(QUESTIONS, ["q5b"])] == ["q5a", "q5b"]
    assert [q.id for q in build.select(QUESTIONS, ["bonus", "q1a"])] == ["q1a", "q5a", "bonus"]
    assert [q.id for q in build.select(QUESTIONS, None)] == list(BY_ID)


def test_build_writes_results_and_report_then_takes_stages_from_the_cache(tmp_path, capsys):
    qs = _questions(("qa", "1A First", (good,), ()), ("qb", "1B Second", (needy,), ("qa",)))
    rc, results = _run(tmp_path, qs, "--quick")
    assert rc == 0 and CALLS == ["good", "needy"]
    info = results["build"]
    assert set(info) >= {"config", "seeds", "versions", "device", "stage_seconds", "ran_at", "questions",
                         "stages_wall_seconds"}
    assert "quick" not in info and "only" not in info  # once, in config
    assert info["config"]["quick"] is True and set(info["stage_seconds"]) == {"qa", "qb"}
    assert info["cache"] == {"qa": "ran", "qb": "ran"} and info["device"]["used"] == "cpu"
    assert results["qa"]["answer"] == {"value": 0.5} and results["qa"]["passed"]
    page = (tmp_path / "report.html").read_text()
    assert "DRAFT" in page and "<svg" in page and "Question 1A First" in page
    assert "Every stage ran in this build" in page
    assert (tmp_path / "report.tex").is_file()
    capsys.readouterr()

    rc, results = _run(tmp_path, qs, "--quick")
    assert rc == 0 and CALLS == ["good", "needy"]  # nothing re-ran
    assert results["build"]["cache"] == {"qa": "cached", "qb": "cached"}
    assert results["build"]["ran_at"] == info["ran_at"]  # when they were computed: the first build
    page = (tmp_path / "report.html").read_text()
    assert "0 of 2 stages ran in this build" in page and "2 were taken from the stage cache (qa, qb" in page
    assert page.count("cached (ran in ") == 2
    assert re.search(r"qa +ok +cached +0\.\d +\(ran in \d+\.\d s, ", capsys.readouterr().out)

    rc, results = _run(tmp_path, qs, "--quick", "--only", "qa")
    assert CALLS == ["good", "needy"] and set(results) == {"qa", "build"}
    assert "Not in this build:</strong> 1B Second" in (tmp_path / "report.html").read_text()

    rc, results = _run(tmp_path, qs, "--quick", "--force")
    assert CALLS == ["good", "needy"] * 2 and results["build"]["cache"]["qa"] == "ran"

    rc, results = _run(tmp_path, qs)  # not --quick: a different setting, so a re-run
    assert CALLS[-2:] == ["good", "needy"] and results["build"]["config"]["quick"] is False


def test_a_deleted_figure_makes_its_stage_run_again(tmp_path):
    qs = _questions(("qa", "1A First", (good,), ()))
    _run(tmp_path, qs)
    (tmp_path / "figures" / "qa_line.svg").unlink()
    _run(tmp_path, qs)
    assert CALLS == ["good", "good"] and (tmp_path / "figures" / "qa_line.svg").is_file()


def test_a_failed_check_exits_nonzero_and_shows_in_the_report(tmp_path, capsys):
    qs = _questions(("qa", "1A First", (good,), ()), ("qc", "2A Wrong", (bad,), ()))
    rc, results = _run(tmp_path, qs)
    assert rc == build.EXIT_FAILED_CHECKS and not results["qc"]["passed"]
    out = capsys.readouterr().out
    assert "FAILED qc: 1 of 1 checks failed" in out and "FAILED qa" not in out
    page = (tmp_path / "report.html").read_text()
    assert '<span class="failed">FAILED</span>' in page and "FAILED: 1 of 1 checks failed." in page


def test_a_stage_that_raises_is_a_failed_check_and_is_not_cached(tmp_path, capsys):
    qs = _questions(("qa", "1A First", (good,), ()), ("qd", "3A Boom", (boom,), ()))
    rc, results = _run(tmp_path, qs)
    assert rc == build.EXIT_FAILED_CHECKS
    (check,) = results["qd"]["checks"]
    assert check["name"] == "qd: the stage raised RuntimeError" and "the data is not there" in check["detail"]
    assert results["qa"]["passed"]  # the other stages still ran
    assert "the data is not there" in capsys.readouterr().err
    _run(tmp_path, qs)
    assert CALLS == ["good", "boom", "boom"]


def test_a_stage_whose_needed_stage_raised_is_not_run_and_fails(tmp_path, capsys):
    ok = _questions(("qa", "1A First", (good,), ()), ("qb", "1B Second", (needy,), ("qa",)))
    rc, _ = _run(tmp_path, ok)  # leaves qa's figure in the folder, and qb in the cache
    assert rc == 0 and CALLS == ["good", "needy"]
    broken = _questions(("qa", "1A First", (boom,), ()), ("qb", "1B Second", (needy,), ("qa",)))
    rc, results = _run(tmp_path, broken)
    assert rc == build.EXIT_FAILED_CHECKS and CALLS == ["boom"]  # qb neither ran nor came from the cache
    (check,) = results["qb"]["checks"]
    assert check["name"] == "qb: needs qa, which raised" and not results["qb"]["passed"]
    assert "FAILED qb: 1 of 1 checks failed (qb: needs qa, which raised)" in capsys.readouterr().out
    assert results["build"]["cache"] == {"qa": "error", "qb": "skipped"}
    assert "not run because a stage they need failed" in (tmp_path / "report.html").read_text()


def changed_output(ctx: Context) -> Section:
    CALLS.append("changed_output")
    section = good(ctx)
    (Path(ctx.out_dir) / "figures" / "qa_extra.txt").write_text(f"run {len(CALLS)}")
    return section


def test_a_needed_stage_with_new_output_re_runs_what_needs_it(tmp_path):
    qs = _questions(("qa", "1A First", (changed_output,), ()), ("qb", "1B Second", (needy,), ("qa",)))
    _run(tmp_path, qs)
    _run(tmp_path, qs)
    assert CALLS.count("needy") == 1  # same output, same key
    rc, results = _run(tmp_path, qs, "--force")
    assert rc == 0 and CALLS.count("needy") == 2
    key = json.loads((tmp_path / "cache" / "qb.json").read_text())["key"]
    (tmp_path / "cache" / "qa.json").unlink()  # qa re-runs and writes different bytes: qb's key follows
    _run(tmp_path, qs)
    assert json.loads((tmp_path / "cache" / "qb.json").read_text())["key"] != key and CALLS.count("needy") == 3


def no_checks(ctx: Context) -> Section:
    return Section(answers={"value": 1}, text={"answer": "no checks here"})


def unserialisable(ctx: Context) -> Section:
    return Section(checks=[Check("ok", True, 0.0, 0.0, "")], metrics={"value": object()})


def test_a_question_without_checks_fails_the_build(tmp_path, capsys):
    rc, results = _run(tmp_path, _questions(("qa", "1A First", (good,), ()), ("qn", "2A Empty", (no_checks,), ())))
    assert results["qn"]["passed"] is False  # Section.to_json: no checks is not a pass
    assert rc == build.EXIT_FAILED_CHECKS and "FAILED qn: no checks ran" in capsys.readouterr().out
    assert "1 of 2 questions FAILED" in (tmp_path / "report.html").read_text()


def test_a_section_that_is_not_json_is_a_failed_stage_not_a_crash(tmp_path, capsys):
    rc, results = _run(tmp_path, _questions(("qa", "1A First", (good,), ()), ("qj", "2A Bad", (unserialisable,), ())))
    assert rc == build.EXIT_FAILED_CHECKS and results["qa"]["passed"]
    (check,) = results["qj"]["checks"]
    assert check["name"].startswith("qj: the stage's section could not be stored (TypeError)") and not check["passed"]
    assert results["build"]["cache"]["qj"] == "error" and not (tmp_path / "cache" / "qj.json").exists()
    assert "could not be stored" in capsys.readouterr().err


def test_a_render_error_exits_3_with_a_message(tmp_path, monkeypatch, capsys):
    import report.render

    def broken(*args, **kwargs):
        raise KeyError("columns")

    monkeypatch.setattr(report.render, "render", broken)
    rc, results = _run(tmp_path, _questions(("qa", "1A First", (good,), ())))
    err = capsys.readouterr().err
    assert rc == build.EXIT_REPORT and "error: the report could not be rendered" in err and "KeyError" in err
    assert results["qa"]["passed"]  # results.json is written before the report


def test_no_pdf_removes_an_earlier_report_pdf(tmp_path, capsys):
    (tmp_path / "report.pdf").write_bytes(b"%PDF- an earlier build's")
    rc, _ = _run(tmp_path, _questions(("qa", "1A First", (good,), ())))
    assert rc == 0 and not (tmp_path / "report.pdf").exists()
    assert "removed" in capsys.readouterr().out


def test_an_interrupted_build_keeps_the_last_results_and_the_finished_stages(tmp_path):
    qs = _questions(("qa", "1A First", (good,), ()))
    _run(tmp_path, qs)
    before = (tmp_path / "results.json").read_bytes()
    qs = _questions(("qa", "1A First", (good,), ()), ("qx", "2A Stop", (interrupted,), ()))
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, qs, "--force")
    assert (tmp_path / "results.json").read_bytes() == before  # the last complete build's results
    assert json.loads((tmp_path / "cache" / "qa.json").read_text())["section"]["passed"]
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(not tex_available(), reason="no TeX engine")
def test_a_latex_failure_prints_the_log_lines_and_exits_3(tmp_path, capsys):
    qs = _questions(("qe", "1A Bad math", (bad_latex,), ()))
    (tmp_path / "report.pdf").write_bytes(b"%PDF- an earlier build's")
    rc = build.main(["--out", str(tmp_path), "--device", "cpu"], questions=qs)
    err = capsys.readouterr().err
    assert rc == build.EXIT_REPORT and "Undefined control sequence" in err and "report.tex:" in err
    assert len(err.splitlines()) < 50 and not (tmp_path / "report.pdf").exists()
    assert (tmp_path / "report.html").is_file()


def test_requirements_txt_lists_the_pyproject_dependencies_and_test_extra():
    import tomllib

    root = Path(build.__file__).parent
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = (root / "requirements.txt").read_text(encoding="utf-8").splitlines()
    listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert listed == project["dependencies"] + project["optional-dependencies"]["test"]
