"""Question 4E.1: six image augmentations with a strength parameter, batched torch ops.

Implementation choice: plain torch (``affine_grid`` + ``grid_sample`` for the geometric ones, a
separable ``conv2d`` for blur) rather than kornia, because every random draw then comes from an
explicit ``torch.Generator`` (reproducible, no global RNG side effects) and the random policy can
compose rotation, scaling, shear and translation into one affine matrix per image, resampling
each image once instead of four times. tests/numeric/test_augment.py checks the warps against
exact pixel permutations (rot90, roll) and the blur against kornia's ``gaussian_blur2d``.

Every augmentation is ``fn(x, strength, generator) -> x'`` on a batch ``x`` of shape
(N, 1, 28, 28), float32 in [0, 1]; each image gets its own random parameter:

====================  =============================================================
rotation              angle ~ U(-s, s) degrees
translation           shift ~ U(-s, s) pixels, independently in x and y
scaling               zoom factor ~ U(1 - s, 1 + s)  (s < 1)
shear                 horizontal shear angle ~ U(-s, s) degrees (x' = x + tan(a) y)
blur                  Gaussian blur, standard deviation s pixels (s = 0: identity)
noise                 additive Gaussian noise, standard deviation s, clipped to [0, 1]
====================  =============================================================
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

Augment = Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]


def _check_batch(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 1 or not x.is_floating_point():
        raise TypeError(f"x must be a float tensor (N, 1, H, W), got {getattr(x, 'shape', type(x))}")


def _check_strength(strength: float, upper: float = math.inf) -> float:
    if not isinstance(strength, (int, float)) or not 0 <= strength < upper:
        raise ValueError(f"strength must be a number in [0, {upper}), got {strength!r}")
    return float(strength)


def _uniform(n: int, half_width: float, generator: torch.Generator) -> torch.Tensor:
    """n draws from U(-half_width, half_width), float64 on the CPU."""
    return (torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1) * half_width


def warp(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply per-image affine maps (N, 2, 3) in pixel units about the image centre.

    ``matrix[i]`` maps a pixel position (x, y) of the input, measured from the centre, to its
    position in the output; the output samples the input bilinearly at the inverse map, with
    black (0) outside the input.
    """
    _check_batch(x)
    n, _, h, w = x.shape
    if matrix.shape != (n, 2, 3):
        raise ValueError(f"matrix must have shape ({n}, 2, 3), got {tuple(matrix.shape)}")
    a, t = matrix[:, :, :2].double(), matrix[:, :, 2:].double()
    inv = torch.linalg.inv(a)
    # grid_sample works in normalised coordinates u = 2 p / size (align_corners=False).
    to_norm = torch.diag(torch.tensor([2.0 / w, 2.0 / h], dtype=torch.float64))
    from_norm = torch.diag(torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64))
    theta_a = to_norm @ inv @ from_norm
    theta_t = -(to_norm @ inv @ t)
    theta = torch.cat([theta_a, theta_t], dim=2).to(x.dtype).to(x.device)
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotation_matrix(angles_deg: torch.Tensor) -> torch.Tensor:
    """(N,) angles (degrees, counter-clockwise as displayed) -> (N, 2, 3) affine maps."""
    a = torch.deg2rad(angles_deg.double())
    c, s = torch.cos(a), torch.sin(a)
    z = torch.zeros_like(a)
    # image rows grow downwards, so a counter-clockwise turn on screen is (x, y) -> (c x + s y, -s x + c y)
    return torch.stack([torch.stack([c, s, z], 1), torch.stack([-s, c, z], 1)], 1)


def translation_matrix(dx: torch.Tensor, dy: torch.Tensor) -> torch.Tensor:
    """(N,) shifts in pixels (right, down) -> (N, 2, 3)."""
    one, z = torch.ones_like(dx.double()), torch.zeros_like(dx.double())
    return torch.stack([torch.stack([one, z, dx.double()], 1), torch.stack([z, one, dy.double()], 1)], 1)


def scaling_matrix(factors: torch.Tensor) -> torch.Tensor:
    """(N,) zoom factors -> (N, 2, 3)."""
    f, z = factors.double(), torch.zeros_like(factors.double())
    return torch.stack([torch.stack([f, z, z], 1), torch.stack([z, f, z], 1)], 1)


def shear_matrix(angles_deg: torch.Tensor) -> torch.Tensor:
    """(N,) horizontal shear angles (degrees) -> (N, 2, 3): x' = x + tan(angle) y."""
    k = torch.tan(torch.deg2rad(angles_deg.double()))
    one, z = torch.ones_like(k), torch.zeros_like(k)
    return torch.stack([torch.stack([one, k, z], 1), torch.stack([z, one, z], 1)], 1)


def compose(*matrices: torch.Tensor) -> torch.Tensor:
    """The affine map doing ``matrices[0]`` first, then ``matrices[1]``, ... (each (N, 2, 3))."""
    out = matrices[0].double()
    for m in matrices[1:]:
        m = m.double()
        out = torch.cat([m[:, :, :2] @ out[:, :, :2], m[:, :, :2] @ out[:, :, 2:] + m[:, :, 2:]], dim=2)
    return out


def rotate(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Rotation by an angle ~ U(-strength, strength) degrees per image."""
    _check_batch(x)
    return warp(x, rotation_matrix(_uniform(len(x), _check_strength(strength, 360.001), generator)))


def translate(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Shift by U(-strength, strength) pixels in x and in y, per image."""
    _check_batch(x)
    s = _check_strength(strength)
    return warp(x, translation_matrix(_uniform(len(x), s, generator), _uniform(len(x), s, generator)))


def scale(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Zoom by a factor ~ U(1 - strength, 1 + strength) per image (strength < 1)."""
    _check_batch(x)
    return warp(x, scaling_matrix(1.0 + _uniform(len(x), _check_strength(strength, 1.0), generator)))


def shear(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Horizontal shear by an angle ~ U(-strength, strength) degrees per image (strength < 90)."""
    _check_batch(x)
    return warp(x, shear_matrix(_uniform(len(x), _check_strength(strength, 90.0), generator)))


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """Normalised 1-D Gaussian taps, radius ceil(3 sigma) (sigma > 0)."""
    radius = max(1, math.ceil(3 * sigma))
    k = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (k / sigma) ** 2)
    return g / g.sum()


def blur(x: torch.Tensor, strength: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gaussian blur with standard deviation ``strength`` pixels (zero padding); 0 is the identity."""
    _check_batch(x)
    sigma = _check_strength(strength)
    if sigma == 0:
        return x.clone()
    g = gaussian_kernel(sigma).to(x.dtype).to(x.device)
    r = len(g) // 2
    out = F.conv2d(x, g.view(1, 1, 1, -1), padding=(0, r))
    return F.conv2d(out, g.view(1, 1, -1, 1), padding=(r, 0))


def noise(x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
    """Add N(0, strength^2) to every pixel, clip to [0, 1]."""
    _check_batch(x)
    s = _check_strength(strength)
    eps = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    return (x + s * eps).clamp_(0.0, 1.0)


@dataclass(frozen=True)
class Augmentation:
    """An augmentation, the unit and range of its strength, and a strength for the grid figure."""

    name: str
    fn: Augment
    unit: str
    max_strength: float  # the top of the band search
    show_strength: float  # noticeable but recognisable (Q4E.2's figure)


AUGMENTATIONS: dict[str, Augmentation] = {
    a.name: a
    for a in (
        Augmentation("rotation", rotate, "degrees", 180.0, 30.0),
        Augmentation("translation", translate, "pixels", 12.0, 4.0),
        Augmentation("scaling", scale, "zoom half-range", 0.8, 0.3),
        Augmentation("shear", shear, "degrees", 75.0, 30.0),
        Augmentation("blur", blur, "sigma (pixels)", 4.0, 1.0),
        Augmentation("noise", noise, "noise std", 1.5, 0.3),
    )
}


def apply(name: str, x: torch.Tensor, strength: float, seed: int = 0, chunk: int = 10_000) -> torch.Tensor:
    """``AUGMENTATIONS[name]`` applied to every image of ``x`` with a generator seeded ``seed``."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"name must be one of {sorted(AUGMENTATIONS)}, got {name!r}")
    gen = torch.Generator().manual_seed(seed)
    fn = AUGMENTATIONS[name].fn
    return torch.cat([fn(x[i : i + chunk], strength, gen) for i in range(0, len(x), chunk)])


@dataclass(frozen=True)
class PolicyConfig:
    """Q4E.5's random policy: ``copies`` versions of each image, the first the original.

    Every other copy gets one random affine map (rotation, zoom, shear and shift, each drawn
    in its range and composed, so the image is resampled once), then with probability
    ``p_blur`` a blur and with probability ``p_noise`` noise.
    """

    copies: int = 10  # 5,000 images -> 50,000
    rotation: float = 12.0  # degrees
    translation: float = 2.0  # pixels
    scaling: float = 0.1  # zoom half-range
    shear: float = 12.0  # degrees
    blur: float = 0.8  # sigma, pixels
    p_blur: float = 0.25
    noise: float = 0.08  # std
    p_noise: float = 0.25
    seed: int = 42

    def __post_init__(self) -> None:
        if not isinstance(self.copies, int) or self.copies < 1:
            raise ValueError(f"copies must be a positive int, got {self.copies!r}")
        for name in ("p_blur", "p_noise"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be a probability, got {getattr(self, name)!r}")


def random_policy(
    x: torch.Tensor, y: torch.Tensor, config: PolicyConfig = PolicyConfig()
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grow (x, y) to ``config.copies`` times its size: the originals, then augmented copies."""
    _check_batch(x)
    if not isinstance(y, torch.Tensor) or y.shape != (len(x),):
        raise TypeError(f"y must be a tensor of shape ({len(x)},)")
    gen = torch.Generator().manual_seed(config.seed)
    out = [x]
    for _ in range(config.copies - 1):
        n = len(x)
        affine = compose(
            rotation_matrix(_uniform(n, config.rotation, gen)),
            scaling_matrix(1.0 + _uniform(n, config.scaling, gen)),
            shear_matrix(_uniform(n, config.shear, gen)),
            translation_matrix(_uniform(n, config.translation, gen), _uniform(n, config.translation, gen)),
        )
        xa = warp(x, affine)
        pick = torch.rand(n, generator=gen) < config.p_blur
        if config.blur > 0 and pick.any():
            xa[pick] = blur(xa[pick], config.blur)
        pick = torch.rand(n, generator=gen) < config.p_noise
        if pick.any():
            xa[pick] = noise(xa[pick], config.noise, gen)
        out.append(xa)
    return torch.cat(out), y.repeat(config.copies)
