"""Question 4E.3: find, by search, one augmentation strength in each band of accuracy drop.

The bands (drops in percentage points of best validation accuracy below the baseline) are
``<= 1``, ``1 to 3`` and ``>= 3``. The drop grows with strength on the whole (the augmented
training images look less and less like the clean validation images), so the search is a
bisection: probe the largest strength (expected ``>= 3``), then halve the bracket between the
largest strength known to cost ``<= 1`` (0 at the start, never probed) and the smallest known to
cost ``>= 3`` until a probe lands in ``1 to 3``, then halve below that until one lands in
``<= 1``. Each probe is a real training run; the picks are probed strengths whose *measured*
drop lies in the band, and a band no probe reached within the budget is reported as not found.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# name -> (low, high) drop in percentage points. As the problem set words them, the bands are
# drop <= 1, 1 < drop < 3 and drop >= 3: the two outer bands are closed at their finite bound and
# the middle one is open, so every drop lies in exactly one band.
BANDS: dict[str, tuple[float, float]] = {
    "le_1": (-math.inf, 1.0),
    "1_to_3": (1.0, 3.0),
    "ge_3": (3.0, math.inf),
}


def _check_band(band: str) -> tuple[float, float]:
    if band not in BANDS:
        raise ValueError(f"band must be one of {sorted(BANDS)}, got {band!r}")
    return BANDS[band]


def in_band(drop: float, band: str) -> bool:
    """Whether a drop (percentage points) lies in ``band`` (see `BANDS` for which bounds belong)."""
    low, high = _check_band(band)
    if math.isinf(low):
        return drop <= high
    if math.isinf(high):
        return drop >= low
    return low < drop < high


def band_label(band: str) -> str:
    """``band`` as an inequality on the drop: ``drop <= 1``, ``1 < drop < 3``, ``drop >= 3``."""
    low, high = _check_band(band)
    if math.isinf(low):
        return f"drop <= {high:g}"
    if math.isinf(high):
        return f"drop >= {low:g}"
    return f"{low:g} < drop < {high:g}"


@dataclass
class BandSearch:
    """The probes made, in order, and the strength picked for each band (None: not found)."""

    probes: list[tuple[float, float]] = field(default_factory=list)  # (strength, drop)
    picks: dict[str, tuple[float, float] | None] = field(default_factory=dict)

    def found(self, band: str) -> bool:
        return self.picks.get(band) is not None

    def to_json(self) -> dict[str, Any]:
        bands = {}
        for band in BANDS:
            pick = self.picks.get(band)
            bands[band] = (
                {"found": True, "strength": pick[0], "drop": pick[1]}
                if pick is not None
                else {"found": False, "strength": None, "drop": None}
            )
        return bands


def _pick(probes: list[tuple[float, float]], band: str) -> tuple[float, float] | None:
    hits = [(s, d) for s, d in probes if in_band(d, band) and s > 0]
    if not hits:
        return None
    if band == "le_1":
        return max(hits)  # the strongest augmentation that is still (nearly) free
    if band == "ge_3":
        return min(hits)  # the weakest that already costs >= 3 points
    return min(hits, key=lambda sd: abs(sd[1] - 2.0))  # closest to the band's middle


def search_bands(probe: Callable[[float], float], max_strength: float, max_probes: int = 8) -> BandSearch:
    """Bisection on strength in (0, max_strength] for a probe in every band.

    ``probe(strength)`` trains and returns the drop in percentage points. At most
    ``max_probes`` calls.
    """
    if not callable(probe):
        raise TypeError("probe must be callable: strength -> drop in percentage points")
    if not isinstance(max_strength, (int, float)) or not max_strength > 0:
        raise ValueError(f"max_strength must be a positive number, got {max_strength!r}")
    if not isinstance(max_probes, int) or max_probes < 1:
        raise ValueError(f"max_probes must be a positive int, got {max_probes!r}")
    result = BandSearch()

    def measure(strength: float) -> float:
        drop = float(probe(strength))
        result.probes.append((float(strength), drop))
        return drop

    lo, hi = 0.0, float(max_strength)  # drop(lo) <= 1 (0: no augmentation), drop(hi) >= 3
    if measure(hi) < BANDS["ge_3"][0]:
        hi = math.inf  # the largest strength is not enough: no bracket; search below it anyway
    while len(result.probes) < max_probes:
        picks = {band: _pick(result.probes, band) for band in BANDS}
        if picks["1_to_3"] is None:
            top = float(max_strength) if math.isinf(hi) else hi
            mid = (lo + top) / 2
            drop = measure(mid)
            if drop >= BANDS["ge_3"][0]:
                hi = mid
            elif drop <= BANDS["le_1"][1]:
                lo = mid
                if math.isinf(hi):
                    break  # even the top strength costs < 3 and the middle <= 1: stop
        elif picks["le_1"] is None:
            # below the smallest strength seen to cost more than 1 point
            above = min(s for s, d in result.probes if d > BANDS["le_1"][1])
            measure((lo + above) / 2)
        else:
            break
    result.picks = {band: _pick(result.probes, band) for band in BANDS}
    return result
