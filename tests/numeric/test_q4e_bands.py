"""The band search on synthetic drop curves: picks lie in their bands, failures are reported."""

from __future__ import annotations

import math

import pytest

from numeric.q4e_bands import BANDS, band_label, in_band, search_bands


def test_monotone_curve_finds_all_three_bands() -> None:
    calls = []

    def probe(s: float) -> float:  # drop grows linearly: 10 points at s = 1
        calls.append(s)
        return 10.0 * s

    found = search_bands(probe, 1.0, max_probes=8)
    for band in BANDS:
        s, d = found.picks[band]
        assert in_band(d, band) and s > 0 and d == 10.0 * s
    assert len(calls) <= 8 and found.probes == [(s, 10.0 * s) for s in calls]


def test_steep_curve_needs_more_halving_below() -> None:
    found = search_bands(lambda s: 100.0 * s**2, 1.0, max_probes=10)  # <= 1 only for s <= 0.1
    assert all(found.found(b) for b in BANDS)
    assert found.picks["le_1"][0] <= 0.1


def test_too_weak_augmentation_reports_ge3_not_found() -> None:
    found = search_bands(lambda s: 0.4 * s, 2.0, max_probes=8)  # at most 0.8 points
    js = found.to_json()
    assert js["ge_3"] == {"found": False, "strength": None, "drop": None}
    assert js["le_1"]["found"] and not js["1_to_3"]["found"]


def test_budget_is_respected_and_misses_reported() -> None:
    found = search_bands(lambda s: 0.0 if s < 0.5001 else 5.0, 1.0, max_probes=3)  # a cliff: no 1-3 value
    assert len(found.probes) == 3 and not found.found("1_to_3")
    assert found.found("le_1") and found.found("ge_3")


def test_in_band_bounds_and_errors() -> None:
    assert in_band(1.0, "le_1") and not in_band(1.0, "1_to_3") and in_band(-4.0, "le_1")
    assert in_band(3.0, "ge_3") and not in_band(3.0, "1_to_3") and in_band(1.0 + 1e-9, "1_to_3")
    assert in_band(math.inf, "ge_3") and not in_band(2.9, "ge_3")
    for drop in (-1.0, 0.0, 1.0, 1.5, 2.0, 3.0, 7.0):  # the bands partition the drops: no overlap at 1 or 3
        assert sum(in_band(drop, b) for b in BANDS) == 1, drop
    assert [band_label(b) for b in BANDS] == ["drop <= 1", "1 < drop < 3", "drop >= 3"]
    with pytest.raises(ValueError, match="band"):
        in_band(1.0, "huge")
    with pytest.raises(ValueError, match="max_strength"):
        search_bands(lambda s: s, 0.0)
    with pytest.raises(ValueError, match="max_probes"):
        search_bands(lambda s: s, 1.0, max_probes=0)
    with pytest.raises(TypeError, match="probe"):
        search_bands(3.0, 1.0)  # type: ignore[arg-type]
