"""The derivation data model: steps, derivations, checks and the per-question section.

A derivation is an ordered list of `Step`s. Each step claims an identity ``lhs == rhs`` between
SymPy expressions (scalars or matrices) with a one-line LaTeX justification, and says how the
claim is to be verified:

- ``"symbolic"``: ``simplify(lhs - rhs) == 0`` exactly (entry-wise for matrices);
- ``"substitution"``: exact rational values are substituted for every free symbol at several
  random points (a fixed seed, positivity respected for symbols declared positive) and the
  difference must vanish exactly at each (exact arithmetic, no rounding: a residual of 10^-32
  fails); used where a full simplify is impractical (large Jacobians), always next to a general-N
  step that carries the argument for every size.

`Derivation.verify()` runs every step and returns one `Check` per step; ``strict=True`` raises a
`DerivationError` that names the failing step. Results are exported as SymPy expressions and as
numeric callables (`Result.callable`).

A question's stage returns a `Section`: its answers, derivations, checks, figures, tables and
metrics, all JSON-serialisable through `Section.to_json()`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sympy as sp

Method = Literal["symbolic", "substitution"]
Kind = Literal["identity", "expectation", "jacobian", "definition"]


class DerivationError(AssertionError):
    """A step of a derivation does not hold."""


@dataclass(frozen=True)
class Check:
    """One verified claim: symbolic step, numeric comparison or statistical test.

    ``error`` is the measured discrepancy (relative error, |difference|, a p-value's complement…,
    as ``detail`` says) and ``tolerance`` the bound it had to meet; ``passed`` records the verdict.
    """

    name: str
    passed: bool
    error: float
    tolerance: float
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        err = self.error if math.isfinite(self.error) else str(self.error)
        return {
            "name": self.name,
            "passed": bool(self.passed),
            "error": err,
            "tolerance": self.tolerance,
            "detail": self.detail,
        }


def _as_matrix(expr: Any) -> sp.Matrix:
    if isinstance(expr, sp.MatrixBase):
        return sp.Matrix(expr)
    return sp.Matrix([[sp.sympify(expr)]])


def _difference(lhs: Any, rhs: Any) -> sp.Matrix:
    a, b = _as_matrix(lhs), _as_matrix(rhs)
    if a.shape != b.shape:
        raise DerivationError(f"shape mismatch: lhs {a.shape} vs rhs {b.shape}")
    return a - b


def _random_value(sym: sp.Symbol, rng: random.Random) -> sp.Rational:
    """An exact rational respecting the symbol's declared assumptions."""
    from derivations.symbols import UNIT_INTERVAL

    if sym in UNIT_INTERVAL:  # probabilities and decay rates: strictly inside (0, 1)
        return sp.Rational(rng.randint(1, 98), 99)
    if sym.is_integer:
        return sp.Integer(rng.randint(1 if sym.is_positive else -5, 7))
    value = sp.Rational(rng.randint(1, 97), rng.randint(1, 13))
    if sym.is_positive or sym.is_nonnegative:
        return value
    return value if rng.random() < 0.5 else -value


@dataclass(frozen=True)
class Step:
    """One claimed identity ``lhs == rhs`` with its justification (LaTeX, one line)."""

    lhs: Any
    rhs: Any
    why: str
    method: Method = "symbolic"
    kind: Kind = "identity"
    points: int = 8  # random exact points for method="substitution"

    def verify(self, name: str, seed: int = 0) -> Check:
        try:
            diff = _difference(self.lhs, self.rhs)
            if self.method == "symbolic":
                residual = diff.applyfunc(sp.simplify)
                ok = all(e == 0 for e in residual)
                err = 0.0 if ok else _numeric_size(residual)
                detail = "exact: simplify(lhs - rhs) == 0"
            elif self.method == "substitution":
                ok, err = _check_by_substitution(diff, self.points, seed)
                detail = f"exact rational substitution at {self.points} random points"
            else:  # pragma: no cover - guarded by the Literal type
                raise DerivationError(f"unknown method {self.method!r}")
        except DerivationError as exc:
            return Check(name, False, math.inf, 0.0, str(exc))
        except Exception as exc:  # SymPy itself failed (e.g. inside simplify): the step is unproven
            return Check(name, False, math.inf, 0.0, f"verification raised {type(exc).__name__}: {exc}")
        return Check(name, ok, err, 0.0, detail)

    def to_json(self) -> dict[str, Any]:
        return {
            "lhs": latex(self.lhs),
            "rhs": latex(self.rhs),
            "why": self.why,
            "method": self.method,
            "kind": self.kind,
        }


def _numeric_size(m: sp.Matrix) -> float:
    try:
        return float(max(abs(complex(sp.N(e, 30))) for e in m))
    except (TypeError, ValueError):
        return math.inf


def _check_by_substitution(diff: sp.Matrix, points: int, seed: int) -> tuple[bool, float]:
    rng = random.Random(seed)
    symbols = sorted(diff.free_symbols, key=lambda s: s.name)
    worst = 0.0
    for _ in range(points):
        subs = {s: _random_value(s, rng) for s in symbols}
        # exact arithmetic only: nsimplify would round a residual below ~1e-31 to 0
        values = diff.xreplace(subs).applyfunc(lambda e: sp.radsimp(sp.simplify(e)))
        for v in values:
            if v != 0 and v.equals(0) is not True:  # equals: a zero simplify left in another form
                try:
                    size = abs(complex(sp.N(v, 30)))
                except (TypeError, ValueError):  # not a number: undefined functions remain
                    size = math.inf
                # nonzero but underflowing to 0.0 is still a failure
                worst = max(worst, size if size > 0 else math.inf)
    return worst == 0.0, worst


def _as_expr(expr: Any) -> Any:
    return sp.Matrix(expr) if isinstance(expr, sp.MatrixBase) else sp.sympify(expr)


def _atoms_with_names(expr: Any, args: Sequence[Any]) -> list[Any]:
    atoms = set(_as_expr(expr).atoms(sp.Symbol, sp.IndexedBase)) | set(args)
    return sorted((a for a in atoms if hasattr(a, "name")), key=lambda a: str(a.name))


def _identifier(name: str, n: int) -> str:
    """A Python identifier close to a LaTeX name: ``\\hat{x}_{1}`` -> ``hat_x_1_<n>``."""
    cleaned = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
    return f"{cleaned or 'v'}_{n}" if cleaned[:1].isalpha() else f"v_{cleaned}_{n}"


def latex(expr: Any) -> str:
    """SymPy's LaTeX for expressions; strings are taken to be LaTeX already."""
    from derivations.symbols import LATEX_NAMES

    if isinstance(expr, str):
        return expr
    return sp.latex(expr, symbol_names=LATEX_NAMES)


@dataclass(frozen=True)
class Result:
    """A named result of a derivation, exported for reuse."""

    name: str
    expr: Any
    args: tuple[sp.Symbol, ...] = ()

    def callable(self, modules: str | Sequence[str] = "numpy") -> Callable[..., Any]:
        """``expr`` as a numeric function of ``args`` (via `sympy.lambdify`).

        Symbols and indexed bases whose names are LaTeX (``\\hat{x}``) rather than Python
        identifiers are renamed first, so every result compiles.
        """
        rename = {
            a: type(a)(_identifier(a.name, n), **getattr(a, "assumptions0", {}))
            if isinstance(a, sp.Symbol)
            else sp.IndexedBase(_identifier(a.name, n))
            for n, a in enumerate(_atoms_with_names(self.expr, self.args))
            if not a.name.isidentifier()
        }
        expr = _as_expr(self.expr).xreplace(rename)
        args = tuple(rename.get(a, a) for a in self.args or self.free_args())
        return sp.lambdify(args, expr, modules=modules)

    def free_args(self) -> tuple[Any, ...]:
        """The arguments used when ``args`` is empty: free symbols and indexed bases, by name."""
        e = _as_expr(self.expr)
        bases = e.atoms(sp.IndexedBase)
        labels = {b.label for b in bases}
        symbols = {s for s in e.free_symbols if isinstance(s, sp.Symbol) and s not in labels}
        return tuple(sorted(symbols | bases, key=lambda a: str(a.name)))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "latex": latex(self.expr), "sympy": sp.sstr(self.expr)}


@dataclass
class Derivation:
    """An ordered chain of verified steps ending in a named result."""

    name: str
    title: str
    steps: list[Step]
    result: Result
    statement: str = ""  # what is being shown, in LaTeX-bearing prose
    argument: str = ""  # the general (e.g. any-N) argument in prose, if steps are concrete

    def verify(self, strict: bool = False, seed: int = 0) -> list[Check]:
        """Verify every step; with ``strict`` raise on the first failure, naming the step."""
        checks = []
        for i, step in enumerate(self.steps, start=1):
            check = step.verify(f"{self.name}: step {i}", seed=seed + i)
            if strict and not check.passed:
                raise DerivationError(
                    f"{self.name} step {i} ({step.why}) does not hold: {check.detail}, "
                    f"residual {check.error}"
                )
            checks.append(check)
        return checks

    def to_json(self, checks: Sequence[Check] | None = None) -> dict[str, Any]:
        steps = [s.to_json() for s in self.steps]
        if checks is not None:
            for s, c in zip(steps, checks, strict=False):
                s["check"] = c.to_json()
        return {
            "name": self.name,
            "title": self.title,
            "statement": self.statement,
            "argument": self.argument,
            "steps": steps,
            "result": self.result.to_json(),
            "passed": None if checks is None else all(c.passed for c in checks),
        }


@dataclass
class Section:
    """Everything one question (or one part of it) contributes to results.json."""

    answers: dict[str, Any] = field(default_factory=dict)
    derivations: list[Derivation] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    figures: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {pdf, svg, caption}
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {columns, rows, caption}
    metrics: dict[str, Any] = field(default_factory=dict)
    text: dict[str, str] = field(default_factory=dict)  # computed prose (names, comparisons)

    def merge(self, other: Section) -> Section:
        for key in ("answers", "figures", "tables", "metrics", "text"):
            mine, theirs = getattr(self, key), getattr(other, key)
            clash = set(mine) & set(theirs)
            if clash:
                raise ValueError(f"two parts both set {key} {sorted(clash)}")
            mine.update(theirs)
        self.derivations.extend(other.derivations)
        self.checks.extend(other.checks)
        return self

    def to_json(self) -> dict[str, Any]:
        derivs = []
        step_checks = []
        for d in self.derivations:
            cs = d.verify()
            step_checks.extend(cs)
            derivs.append(d.to_json(cs))
        checks = step_checks + list(self.checks)
        return {
            "answer": self.answers,  # the issues name the path q1a.answer.f
            "derivations": derivs,
            "checks": [c.to_json() for c in checks],
            "figures": self.figures,
            "tables": self.tables,
            "metrics": self.metrics,
            "text": self.text,
            "passed": bool(checks) and all(c.passed for c in checks),  # no checks: nothing shown right
        }


@dataclass(frozen=True)
class Context:
    """What every stage is given: the build's settings and where to put artifacts.

    ``quick`` asks for small settings (a draft); ``device`` is a torch device string ("cpu",
    "cuda"); ``data_dir`` holds mnist/ and shakespeare/; ``out_dir`` is the build folder;
    ``force`` (``build.py --force``) asks stages to redo work they would otherwise resume or reuse
    from ``out_dir`` (e.g. a finished training checkpoint).
    """

    out_dir: Any  # pathlib.Path
    data_dir: Any  # pathlib.Path
    quick: bool = False
    device: str = "cpu"
    seed: int = 42
    force: bool = False
