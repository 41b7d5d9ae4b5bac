"""Shared notation: every symbol used in more than one derivation, with its assumptions.

Names follow the problem set (../shared/problem-set/ps2.md) and are the ones the write-up uses.
`UNIT_INTERVAL` lists the symbols that lie strictly inside (0, 1), a bound SymPy's assumptions
cannot express; the substitution checker draws their values from (0, 1).
"""

from __future__ import annotations

import sympy as sp

# Q1 dropout: drop probability p in (0, 1); keep probability 1 - p.
p = sp.Symbol("p", positive=True)
# Sizes: batch / examples N, features D, time step t.
N = sp.Symbol("N", integer=True, positive=True)
D = sp.Symbol("D", integer=True, positive=True)
t = sp.Symbol("t", integer=True, positive=True)
# Index variables for index notation.
i, j, k, l = sp.symbols("i j k l", integer=True, positive=True)  # noqa: E741 (index notation)
# Normalisation: epsilon > 0 (numerical stability), variance sigma^2 >= 0.
eps = sp.Symbol("epsilon", positive=True)
# Optimisers: decay rates beta, beta_1, beta_2 in (0, 1); learning rate eta > 0; lambdas >= 0.
beta = sp.Symbol("beta", positive=True)
beta1 = sp.Symbol("beta_1", positive=True)
beta2 = sp.Symbol("beta_2", positive=True)
eta = sp.Symbol("eta", positive=True)
# SGD's momentum coefficient, 0 < rho < 1 (cs231n's rho; mu is kept for a mean, e.g. Adam's stationary E[g]).
momentum = sp.Symbol("rho", positive=True)
lambda_l2 = sp.Symbol("lambda_l2", nonnegative=True)
lambda_wd = sp.Symbol("lambda_wd", nonnegative=True)
lambda_wd_lr = sp.Symbol("lambdaprime_wd", nonnegative=True)  # Q4B: a decay not scaled by the learning rate

UNIT_INTERVAL = frozenset({p, beta, beta1, beta2, momentum})

# How symbols print in the write-up where SymPy's default is not the problem set's notation.
LATEX_NAMES: dict[sp.Symbol, str] = {
    lambda_l2: r"\lambda_{\ell_2}",
    lambda_wd: r"\lambda_{wd}",
    lambda_wd_lr: r"\lambda_{wd}'",
}
