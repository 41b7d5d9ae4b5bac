"""Numeric comparison against a reference, cs231n style: relative error with a floor.

Every comparison returns a `derivations.core.Check` carrying the measured error and the named
tolerance it had to meet, so the report can show both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from derivations.core import Check

# Named tolerances. float64 round-off on O(1) quantities through a few dozen operations stays
# far below 1e-10; float32 has a unit round-off of 6e-8, and reductions over ~1e3 terms lose
# one to two digits more.
TOL_FLOAT64 = 1e-10
TOL_FLOAT32 = 1e-5
REL_FLOOR = 1e-8  # denominators below this count as this: avoids 0/0 on exact zeros
# A control (a deliberately wrong update rule) must move a float64 trajectory far beyond
# round-off: 1e-3 relative is 6-7 orders above TOL_FLOAT64 and below the 1e-2..1e-1 that a wrong
# factor of 2 or a missing learning rate makes on the Q4 test problems (measured).
SEPARATION_MIN = 1e-3


def to_numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def rel_error(actual: Any, expected: Any, floor: float = REL_FLOOR) -> float:
    """max |a - e| / max(|a| + |e|, floor), over all entries (0 for empty arrays)."""
    a = to_numpy(actual).astype(np.float64)
    e = to_numpy(expected).astype(np.float64)
    if a.shape != e.shape:
        raise ValueError(f"shape mismatch: actual {a.shape} vs expected {e.shape}")
    if a.size == 0:
        return 0.0
    if not (np.isfinite(a).all() and np.isfinite(e).all()):
        return float("inf")
    return float(np.max(np.abs(a - e) / np.maximum(np.abs(a) + np.abs(e), floor)))


def compare(name: str, actual: Any, expected: Any, tolerance: float, detail: str = "") -> Check:
    """A `Check` that ``actual`` matches ``expected`` to ``tolerance`` in relative error."""
    err = rel_error(actual, expected)
    return Check(name, err <= tolerance, err, tolerance, detail or "relative error vs reference")


def bound(name: str, value: float, tolerance: float, detail: str) -> Check:
    """A `Check` that a measured non-negative discrepancy ``value`` is at most ``tolerance``."""
    value = float(value)
    return Check(name, bool(np.isfinite(value) and value <= tolerance), value, tolerance, detail)


def norm_rel_error(actual: Any, expected: Any) -> float:
    """||actual - expected|| / ||expected|| over all entries (a size, not a worst entry)."""
    a = to_numpy(actual).astype(np.float64)
    e = to_numpy(expected).astype(np.float64)
    if a.shape != e.shape:
        raise ValueError(f"shape mismatch: actual {a.shape} vs expected {e.shape}")
    return float(np.linalg.norm(a - e) / np.linalg.norm(e))


def separates(name: str, value: float, minimum: float, detail: str) -> Check:
    """A control `Check`: passes only when the measured ``value`` EXCEEDS ``minimum``.

    Used where a deliberately wrong variant must differ from the reference (so the matching
    comparison next to it can fail) or a bias must be detected; ``detail`` says what ``value`` is.
    """
    value = float(value)
    return Check(name, bool(np.isfinite(value) and value > minimum), value, minimum,
                 f"{detail}; must EXCEED the tolerance")


def verdict(checks: list[Check]) -> str:
    """One sentence for the prose: all checks pass, or which fail (so the text never overclaims)."""
    failed = [c.name for c in checks if not c.passed]
    if not failed:
        return f"All {len(checks)} checks of this part pass."
    return f"{len(failed)} of {len(checks)} checks FAIL ({'; '.join(failed)}): the statements above are not confirmed."
