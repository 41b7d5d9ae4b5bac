"""build.py: argument errors are clear, --only pulls in what a question needs, a second build takes
every stage from the cache, --force re-runs, failures (checks, exceptions, LaTeX) set the exit code.

The stages here are small fakes put in place of the registry, so these tests are fast and do not
depend on the question modules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import build
from derivations.core import Check, Context, Section
from numeric.plotting import new_figure, save_figure
from registry import BY_ID
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


def _questions(monkeypatch, *spec):
    qs = tuple(build.Question(qid, title, parts, needs) for qid, title, parts, needs in spec)
    monkeypatch.setattr(build, "QUESTIONS", qs)
    monkeypatch.setattr(build, "BY_ID", {q.id: q for q in qs})
    CALLS.clear()


def _run(out: Path, *args: str) -> tuple[int, dict]:
    rc = build.main(["--out", str(out), "--no-pdf", "--device", "cpu", *args])
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


def test_a_second_build_into_the_same_folder_at_once_is_refused(tmp_path):
    held = build.lock_out_dir(tmp_path)
    if held is None:
        pytest.skip("no file locks here")
    with pytest.raises(SystemExit, match="another build is writing"):
        build.lock_out_dir(tmp_path)
    held.close()
    build.lock_out_dir(tmp_path).close()  # free again once the first build is done


def test_only_runs_a_question_with_what_it_needs_in_order():
    assert [q.id for q in build.select(["q5b"])] == ["q5a", "q5b"]
    assert [q.id for q in build.select(["bonus", "q1a"])] == ["q1a", "q5a", "bonus"]
    assert [q.id for q in build.select(None)] == list(BY_ID)


def test_build_writes_results_and_report_then_takes_stages_from_the_cache(tmp_path, monkeypatch):
    _questions(monkeypatch, ("qa", "1A First", (good,), ()), ("qb", "1B Second", (needy,), ("qa",)))
    rc, results = _run(tmp_path, "--quick")
    assert rc == 0 and CALLS == ["good", "needy"]
    info = results["build"]
    assert set(info) >= {"config", "seeds", "versions", "device", "quick", "stage_seconds", "questions"}
    assert info["quick"] is True and set(info["stage_seconds"]) == {"qa", "qb"}
    assert info["cache"] == {"qa": "ran", "qb": "ran"} and info["device"]["used"] == "cpu"
    assert results["qa"]["answer"] == {"value": 0.5} and results["qa"]["passed"]
    page = (tmp_path / "report.html").read_text()
    assert "DRAFT" in page and "<svg" in page and "Question 1A First" in page
    assert (tmp_path / "report.tex").is_file()

    rc, results = _run(tmp_path, "--quick")
    assert rc == 0 and CALLS == ["good", "needy"]  # nothing re-ran
    assert results["build"]["cache"] == {"qa": "cached", "qb": "cached"}

    rc, results = _run(tmp_path, "--quick", "--only", "qa")
    assert CALLS == ["good", "needy"] and set(results) == {"qa", "build"}
    assert "Not in this build:</strong> 1B Second" in (tmp_path / "report.html").read_text()

    rc, results = _run(tmp_path, "--quick", "--force")
    assert CALLS == ["good", "needy"] * 2 and results["build"]["cache"]["qa"] == "ran"

    rc, results = _run(tmp_path)  # not --quick: a different setting, so a re-run
    assert CALLS[-2:] == ["good", "needy"] and results["build"]["quick"] is False


def test_a_deleted_figure_makes_its_stage_run_again(tmp_path, monkeypatch):
    _questions(monkeypatch, ("qa", "1A First", (good,), ()))
    _run(tmp_path)
    (tmp_path / "figures" / "qa_line.svg").unlink()
    _run(tmp_path)
    assert CALLS == ["good", "good"] and (tmp_path / "figures" / "qa_line.svg").is_file()


def test_a_failed_check_exits_nonzero_and_shows_in_the_report(tmp_path, monkeypatch, capsys):
    _questions(monkeypatch, ("qa", "1A First", (good,), ()), ("qc", "2A Wrong", (bad,), ()))
    rc, results = _run(tmp_path)
    assert rc == build.EXIT_FAILED_CHECKS and not results["qc"]["passed"]
    assert "FAILED checks in: qc" in capsys.readouterr().out
    page = (tmp_path / "report.html").read_text()
    assert '<span class="failed">FAILED</span>' in page and "1 of 1 checks FAILED" in page


def test_a_stage_that_raises_is_a_failed_check_and_is_not_cached(tmp_path, monkeypatch, capsys):
    _questions(monkeypatch, ("qa", "1A First", (good,), ()), ("qd", "3A Boom", (boom,), ()))
    rc, results = _run(tmp_path)
    assert rc == build.EXIT_FAILED_CHECKS
    (check,) = results["qd"]["checks"]
    assert check["name"] == "qd: the stage raised RuntimeError" and "the data is not there" in check["detail"]
    assert results["qa"]["passed"]  # the other stages still ran
    assert "the data is not there" in capsys.readouterr().err
    _run(tmp_path)
    assert CALLS == ["good", "boom", "boom"]


def test_an_interrupted_build_keeps_the_last_results_and_the_finished_stages(tmp_path, monkeypatch):
    _questions(monkeypatch, ("qa", "1A First", (good,), ()))
    _run(tmp_path)
    before = (tmp_path / "results.json").read_bytes()
    _questions(monkeypatch, ("qa", "1A First", (good,), ()), ("qx", "2A Stop", (interrupted,), ()))
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, "--force")
    assert (tmp_path / "results.json").read_bytes() == before  # the last complete build's results
    assert json.loads((tmp_path / "cache" / "qa.json").read_text())["section"]["passed"]
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.skipif(not tex_available(), reason="no TeX engine")
def test_a_latex_failure_prints_the_log_lines_and_exits_3(tmp_path, monkeypatch, capsys):
    _questions(monkeypatch, ("qe", "1A Bad math", (bad_latex,), ()))
    rc = build.main(["--out", str(tmp_path), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == build.EXIT_REPORT and "Undefined control sequence" in err and "report.tex:" in err
    assert len(err.splitlines()) < 50 and not (tmp_path / "report.pdf").exists()
    assert (tmp_path / "report.html").is_file()
