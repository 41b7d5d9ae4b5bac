"""Q4A.1 check: the real model's initial parameters follow the derived mixture PDF.

`numeric.mnist_model.make_mlp` (seed ``ctx.seed``) is initialised by torch itself; its parameters
are compared with `derivations.q4a_init`:

- per layer, the parameter count, the range ``max |w| <= 1/sqrt(fan_in)`` (and close to it) and a
  Kolmogorov-Smirnov test of weights and biases against ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``;
- all parameters together against the derived mixture CDF (KS test, lambdified from SymPy);
- a control: the same model with every parameter scaled by `CONTROL_SCALE` is rejected;
- the variance argument: ``Var z`` of a freshly initialised nn.Linear(n, 256) on unit-variance
  inputs is ``1/3 + 1/(3n)`` at every width, while a fixed ``U(-a, a)`` weight gives ``n a^2 / 3``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.stats
import sympy as sp
import torch

from derivations.core import Check, Context, Section
from derivations.q4a_init import layers, mixture_cdf, x
from numeric.mnist_model import LAYER_SIZES, make_mlp
from numeric.mnist_train import cpu_threads

# The histogram with the derived density overlaid is numeric.q4a_histograms' figure (same question).
# Seven KS tests each at ALPHA: a family-wise false-rejection rate of at most 7 * ALPHA (Bonferroni).
ALPHA = 1e-3
CONTROL_SCALE = 1.05  # a 5% too wide init moves the CDF by ~0.024, 4x the critical distance at P ~ 1e5
FLOAT32_SLACK = 1e-6  # torch draws in float32: |w| may exceed the float64 bound by one rounding
MAX_GAP_PROB = 1e-6  # allowed probability that max |w| falls short of the bound by more than the gap
WIDTHS = (16, 64, 256, 1024, 4096)
FIXED_BOUND = 0.05  # the width-independent weight bound of the contrast
BATCH, FAN_OUT = 1024, 256
# Var z is estimated from BATCH * FAN_OUT samples: relative sd ~ sqrt(2 / 262144) plus the spread of
# sum_i w_i^2 across units, sqrt(0.8 / n) / sqrt(FAN_OUT) <= 0.014 at n = 16; 0.1 is > 7 sd.
VAR_REL_TOL = 0.1


CDF = Callable[[np.ndarray], np.ndarray]


def ks_test(name: str, values: np.ndarray, cdf: CDF, alpha: float = ALPHA) -> tuple[Check, float]:
    """KS test of ``values`` against ``cdf``: (Check with error = statistic D, tolerance = critical D
    at ``alpha``; the p-value)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2:
        raise ValueError(f"values needs at least two samples, got {values.size}")
    res = scipy.stats.kstest(values, cdf)
    crit = float(scipy.stats.kstwo.ppf(1 - alpha, values.size))
    check = Check(
        name,
        bool(res.pvalue >= alpha),
        float(res.statistic),
        crit,
        f"KS statistic vs critical value at alpha={alpha:g}; n={values.size}, p-value={res.pvalue:.3g}",
    )
    return check, float(res.pvalue)


def ks_check(name: str, values: np.ndarray, cdf: CDF, alpha: float = ALPHA) -> Check:
    """`ks_test`'s Check alone."""
    return ks_test(name, values, cdf, alpha)[0]


def ks_rejects(name: str, values: np.ndarray, cdf: CDF, alpha: float = ALPHA) -> Check:
    """A control: passes when the KS test *rejects* (statistic above the critical value)."""
    c = ks_check(name, values, cdf, alpha)
    return Check(name, not c.passed, c.error, c.tolerance, c.detail + "; must EXCEED the critical value")


def _uniform_cdf(bound: float) -> CDF:
    return scipy.stats.uniform(loc=-bound, scale=2 * bound).cdf


def model_parameters(seed: int) -> list[tuple[str, np.ndarray]]:
    """(name, float64 values) of every tensor of the freshly initialised Q4 MLP."""
    model = make_mlp(LAYER_SIZES, seed=seed)
    return [(n, p.detach().double().numpy().ravel()) for n, p in model.named_parameters()]


def _layer_checks(params: list[tuple[str, np.ndarray]]) -> list[Check]:
    checks = []
    tensors = iter(params)
    for k, layer in enumerate(layers(LAYER_SIZES), start=1):
        bound = float(layer["bound"])
        (_, w), (_, b) = next(tensors), next(tensors)
        count = w.size + b.size
        checks.append(
            Check(
                f"layer {k}: parameter count {count} == derived n_k (n_(k-1) + 1)",
                count == layer["count"],
                float(abs(count - layer["count"])),
                0.0,
                "exact count",
            )
        )
        for kind, v in (("weight", w), ("bias", b)):
            top = float(np.abs(v).max())
            gap = 1 - MAX_GAP_PROB ** (1 / v.size)  # P(max|w| < (1 - gap) bound) = MAX_GAP_PROB
            checks.append(
                Check(
                    f"layer {k} {kind}: max |w| within [1 - gap, 1] x 1/sqrt({layer['fan_in']})",
                    bool(top <= bound * (1 + FLOAT32_SLACK) and top >= bound * (1 - gap)),
                    abs(top / bound - 1),
                    gap,
                    f"|max|w| / bound - 1|; gap has probability {MAX_GAP_PROB:g}",
                )
            )
            checks.append(
                ks_check(
                    f"layer {k} {kind} ~ U(-1/sqrt({layer['fan_in']}), 1/sqrt({layer['fan_in']}))",
                    v,
                    _uniform_cdf(bound),
                )
            )
    return checks


def preactivation_variance(width: int, fixed_bound: float | None, seed: int) -> float:
    """Var z of nn.Linear(width, FAN_OUT) at init on N(0, 1) inputs (default or U(-a, a) weights)."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive int, got {width!r}")
    torch.manual_seed(seed)
    layer = torch.nn.Linear(width, FAN_OUT)
    if fixed_bound is not None:
        torch.nn.init.uniform_(layer.weight, -fixed_bound, fixed_bound)
        torch.nn.init.zeros_(layer.bias)
    with torch.no_grad():
        z = layer(torch.randn(BATCH, width))
    return float(z.double().var())


def _width_table(seed: int) -> tuple[list[Check], dict]:
    rows, checks = [], []
    for n in WIDTHS:
        default = preactivation_variance(n, None, seed)
        fixed = preactivation_variance(n, FIXED_BOUND, seed)
        pred_default, pred_fixed = 1 / 3 + 1 / (3 * n), n * FIXED_BOUND**2 / 3
        rows.append([n, default, pred_default, fixed, pred_fixed])
        for label, got, want in (
            ("PyTorch default", default, pred_default),
            (f"fixed U(-{FIXED_BOUND}, {FIXED_BOUND})", fixed, pred_fixed),
        ):
            err = abs(got / want - 1)
            checks.append(
                Check(
                    f"Var z at width {n}, {label}, matches the derived variance",
                    err <= VAR_REL_TOL,
                    err,
                    VAR_REL_TOL,
                    f"relative error, Monte Carlo over {BATCH} x {FAN_OUT} samples",
                )
            )
    table = {
        "columns": [
            "fan-in n",
            "Var z (default)",
            "1/3 + 1/(3n)",
            f"Var z (U(-{FIXED_BOUND}, {FIXED_BOUND}))",
            "n a^2/3",
        ],
        "rows": rows,
        "caption": "Pre-activation variance of nn.Linear(n, 256) at initialisation on unit-variance inputs: "
        "width-independent with PyTorch's 1/sqrt(n) bound, linear in n with a fixed bound.",
    }
    return checks, table


def check(ctx: Context) -> Section:
    """The checks above; the KS statistics, p-values and the variance table."""
    params = model_parameters(ctx.seed)
    values = np.concatenate([v for _, v in params])
    cdf_fn = sp.lambdify(x, mixture_cdf(LAYER_SIZES), modules="numpy")
    layer_checks = _layer_checks(params)
    mixture, pvalue = ks_test("all parameters ~ derived mixture PDF (KS)", values, cdf_fn)
    control = ks_rejects(
        f"control: parameters x {CONTROL_SCALE} are rejected (KS)", CONTROL_SCALE * values, cdf_fn
    )
    with cpu_threads(1):  # tiny layers: extra intra-op threads only add synchronisation
        width_checks, table = _width_table(ctx.seed)
    return Section(
        checks=layer_checks + [mixture, control] + width_checks,
        tables={"init_preactivation_variance": table},
        metrics={
            "init_ks_statistic": mixture.error,
            "init_ks_critical": mixture.tolerance,
            "init_ks_pvalue": pvalue,
            "init_ks_alpha": ALPHA,
            "init_control_ks_statistic": control.error,
            "init_parameter_count": int(values.size),
            "init_sample_variance": float(values.var()),
        },
        text={
            "pdf_check": (
                f"Checked against the real model (seed {ctx.seed}): the {values.size} initial parameters "
                f"{'pass' if mixture.passed else 'FAIL'} a "
                f"Kolmogorov-Smirnov test against the derived CDF (statistic D = {mixture.error:.4f}, critical value "
                f"{mixture.tolerance:.4f} at level {ALPHA:g}, p-value {pvalue:.2f}), while the same parameters "
                f"scaled by {CONTROL_SCALE} {'are' if control.passed else 'are NOT'} rejected (D = {control.error:.4f}). "
                + (
                    "Each layer's weights and biases pass their own uniform KS test, and the largest |w| sits at the derived bound."
                    if all(c.passed for c in layer_checks)
                    else "Some per-layer checks FAIL (see the checks)."
                )
            ),
            "why_scale_check": (
                "Measured at initialisation (table): with PyTorch's default the pre-activation variance stays "
                f"{min(r[1] for r in table['rows']):.3f}-{max(r[1] for r in table['rows']):.3f} from fan-in {WIDTHS[0]} to "
                f"{WIDTHS[-1]}, while a fixed bound {FIXED_BOUND} gives {table['rows'][0][3]:.4f} to {table['rows'][-1][3]:.2f}."
            ),
        },
    )
