"""Where the report's numbers come from, from results.json's ``build`` block: which stages ran in
this build and which were taken from the stage cache (and when those ran), and how long each took.
`report.view` puts these sentences and rows in the report; the templates print them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 check"``, ``"2 checks"``."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _seconds(x: Any) -> str:
    return f"{x:.1f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def _when(stamp: Any) -> str:
    """An ISO 8601 time as "2026-01-31 14:05" (its UTC offset dropped), "" when unknown."""
    text = str(stamp or "")
    return text[:16].replace("T", " ") if len(text) >= 16 else text


def stages(build: dict[str, Any]) -> list[dict[str, str]]:
    """One row per stage: how long it took when it ran, and whether that was in this build."""
    how, ran_at = build.get("cache", {}), build.get("ran_at", {})
    rows = []
    for qid, sec in build.get("stage_seconds", {}).items():
        h = str(how.get(qid, ""))
        if h == "cached":
            time, when = f"cached (ran in {_seconds(sec)} s)", _when(ran_at.get(qid)) or "an earlier build"
        elif h == "skipped":
            time, when = "not run", "a stage it needs failed"
        else:
            time, when = f"{_seconds(sec)} s", "this build" + (" (it raised)" if h == "error" else "")
        rows.append({"stage": str(qid), "time": time, "when": when})
    return rows


def sentence(build: dict[str, Any], date: str) -> str:
    """Where the numbers come from: this build, or partly the stage cache (and when those ran)."""
    how = build.get("cache", {})
    count = Counter(how.values())
    cached = [qid for qid, h in how.items() if h == "cached"]
    ran = count["ran"] + count["error"]
    if not cached:
        text = f"Every stage ran in this build ({date})"
    else:
        when = sorted(filter(None, (_when(build.get("ran_at", {}).get(q)) for q in cached)))
        span = f", which ran between {when[0]} and {when[-1]}" if len(when) > 1 and when[0] != when[-1] else (
            f", which ran {when[0]}" if when else "")
        text = (f"{ran} of {plural(len(how), 'stage')} ran in this build ({date}); "
                f"{plural(len(cached), 'was', 'were')} taken from the stage cache ({', '.join(cached)}{span}), "
                "computed by an earlier build with the same code, settings, data and libraries")
    if count["error"]:
        text += f"; {plural(count['error'], 'stage')} raised"
    if count["skipped"]:
        text += f"; {plural(count['skipped'], 'stage was', 'stages were')} not run because a stage they need failed"
    return text + "."


def stages_wall(build: dict[str, Any]) -> str:
    """This build's wall time for all its stages, as recorded ("not recorded" in older files)."""
    wall = build.get("stages_wall_seconds")
    return f"{_seconds(wall)} s" if wall is not None else "not recorded"
