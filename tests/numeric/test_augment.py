"""Q4E.1's augmentations: exact on pixel permutations, blur against kornia, strengths behave."""

from __future__ import annotations

import pytest
import torch

from numeric import augment as A
from numeric.checks import TOL_FLOAT32, rel_error

# Bilinear resampling at exact pixel centres reproduces the pixels up to float32 round-off in
# the grid coordinates: ~6e-8 * 28 ~ 2e-6 of a pixel, times an intensity slope of at most 1 per
# pixel. Pixels are in [0, 1], so the error is measured absolutely (a relative error is
# meaningless on the exact zeros of the background); 1e-5 is that bound with margin.
TOL_WARP = 1e-5


def max_abs(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def _batch(n: int = 4, seed: int = 0) -> torch.Tensor:
    x = torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))
    x[:, :, :3] = 0  # black border rows/cols, so shifting by <= 3 pixels loses nothing
    x[:, :, -3:] = 0
    x[:, :, :, :3] = 0
    x[:, :, :, -3:] = 0
    return x


def test_rotation_by_90_degrees_is_rot90() -> None:
    x = _batch()
    out = A.warp(x, A.rotation_matrix(torch.full((4,), 90.0)))
    # counter-clockwise on screen is torch.rot90 with k=1 over (H, W)
    assert max_abs(out, torch.rot90(x, 1, dims=(2, 3))) < TOL_WARP


def test_integer_translation_is_a_roll() -> None:
    x = _batch()
    out = A.warp(x, A.translation_matrix(torch.full((4,), 2.0), torch.full((4,), -3.0)))
    assert max_abs(out, torch.roll(x, shifts=(-3, 2), dims=(2, 3))) < TOL_WARP


def test_identity_strengths_leave_images_unchanged() -> None:
    x, gen = _batch(), torch.Generator().manual_seed(1)
    for name in ("rotation", "translation", "scaling", "shear", "blur", "noise"):
        out = A.AUGMENTATIONS[name].fn(x, 0.0, gen)
        assert max_abs(out, x) < TOL_WARP, name


def test_compose_applies_first_matrix_first() -> None:
    x = _batch()
    r = A.rotation_matrix(torch.full((4,), 90.0))
    t = A.translation_matrix(torch.full((4,), 2.0), torch.zeros(4))
    once = A.warp(x, A.compose(r, t))
    twice = A.warp(A.warp(x, r), t)
    assert max_abs(once, twice) < TOL_WARP


def test_blur_matches_kornia() -> None:
    kornia = pytest.importorskip("kornia")
    x = _batch()
    for sigma in (0.7, 1.5, 3.0):
        k = len(A.gaussian_kernel(sigma))
        ref = kornia.filters.gaussian_blur2d(x, (k, k), (sigma, sigma), border_type="constant")
        assert rel_error(A.blur(x, sigma), ref) < TOL_FLOAT32, sigma


def test_blur_preserves_mass_of_centred_image() -> None:
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 12:16, 12:16] = 1.0
    out = A.blur(x, 1.0)  # radius 3: nothing reaches the border
    assert abs(float(out.sum()) - 16.0) < 1e-4  # float32 sum of 784 terms
    assert float(out.max()) < 1.0  # and it did spread


def test_noise_std_and_clipping() -> None:
    x = torch.full((64, 1, 28, 28), 0.5)
    out = A.noise(x, 0.1, torch.Generator().manual_seed(0))
    # 50,176 draws: the sample std of N(0, 0.1^2) is within 2% of 0.1 (> 6 standard errors)
    assert abs(float((out - x).std()) - 0.1) < 0.002
    big = A.noise(x, 5.0, torch.Generator().manual_seed(0))
    assert float(big.min()) == 0.0 and float(big.max()) == 1.0


def test_strength_grows_the_change() -> None:
    x = _batch(16)
    for name, aug in A.AUGMENTATIONS.items():
        small = (A.apply(name, x, 0.2 * aug.max_strength) - x).abs().mean()
        large = (A.apply(name, x, aug.max_strength) - x).abs().mean()
        assert float(large) > float(small) > 0, name


def test_same_seed_same_images_different_seed_different() -> None:
    x = _batch(8)
    a = A.apply("rotation", x, 30.0, seed=3)
    assert torch.equal(a, A.apply("rotation", x, 30.0, seed=3))
    assert not torch.equal(a, A.apply("rotation", x, 30.0, seed=4))


def test_random_policy_grows_to_copies_and_keeps_originals() -> None:
    x, y = _batch(10), torch.arange(10)
    xa, ya = A.random_policy(x, y, A.PolicyConfig(copies=3))
    assert xa.shape == (30, 1, 28, 28) and torch.equal(ya, y.repeat(3))
    assert torch.equal(xa[:10], x)
    assert float((xa[10:20] - x).abs().mean()) > 0.01  # the copies really are changed
    assert float(xa.min()) >= 0.0 and float(xa.max()) <= 1.0 + 1e-6


def test_bad_inputs_raise_naming_the_argument() -> None:
    x = _batch()
    with pytest.raises(ValueError, match="strength"):
        A.rotate(x, -1.0, torch.Generator())
    with pytest.raises(ValueError, match="strength"):
        A.scale(x, 1.5, torch.Generator())
    with pytest.raises(TypeError, match="x must be"):
        A.blur(torch.rand(28, 28), 1.0)
    with pytest.raises(ValueError, match="name"):
        A.apply("flip", x, 1.0)
    with pytest.raises(ValueError, match="copies"):
        A.PolicyConfig(copies=0)
