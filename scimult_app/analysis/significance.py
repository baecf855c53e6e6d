"""Do two systems differ beyond noise? A paired randomization (sign-flip) test over queries.

Under the null hypothesis the two systems are interchangeable, so each query's difference is
as likely positive as negative. The p-value is the share of sign assignments whose mean
difference is at least as far from 0 as the observed one (two-sided): exact when there are
few queries (2^n assignments at most `trials`), else from `trials` random assignments, with
the observed one counted (p is never 0).
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TRIALS = 10_000
ALPHA = 0.05


@dataclass
class PairedTest:
    mean_a: float
    mean_b: float
    difference: float  # mean of a - b
    p_value: float
    queries: int
    exact: bool
    trials: int = 0  # random assignments drawn (0 when exact)

    @property
    def p_text(self) -> str:
        """'p = 0.012', or 'p ≤ 0.0001' when no random assignment was as extreme as observed."""
        if not self.exact and self.p_value <= 1 / (self.trials + 1) + 1e-15:
            return f"p ≤ {self.p_value:.2g}"
        return f"p = {self.p_value:.3g}"


def randomization_test(a: Sequence[float], b: Sequence[float], trials: int = TRIALS,
                       seed: int = 0) -> PairedTest:
    """Two-sided paired randomization test of mean(a) = mean(b); a[i], b[i] are one query's."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two lists of one length, got {a.shape} and {b.shape}")
    n = len(a)
    if n == 0:
        return PairedTest(0.0, 0.0, 0.0, 1.0, 0, True)
    differences = a - b
    observed = abs(differences.mean())
    tolerance = 1e-12 * max(1.0, float(np.abs(differences).max()))
    if n <= 20 and 2 ** n <= trials:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
        means = np.abs(signs @ differences) / n
        p_value = float(np.mean(means >= observed - tolerance))
        exact = True
    else:
        rng = np.random.default_rng(seed)
        at_least = 0
        for start in range(0, trials, 1000):
            count = min(1000, trials - start)
            signs = rng.choice((1.0, -1.0), size=(count, n))
            at_least += int((np.abs(signs @ differences) / n >= observed - tolerance).sum())
        p_value = (at_least + 1) / (trials + 1)
        exact = False
    return PairedTest(float(a.mean()), float(b.mean()), float(differences.mean()),
                      min(1.0, p_value), n, exact, 0 if exact else trials)


def in_words(name_a: str, name_b: str, metric: str, test: PairedTest, alpha: float = ALPHA) -> str:
    """One sentence a person can read: which system is better, by how much, and whether the
    difference is beyond what chance gives at level `alpha`."""
    if test.queries == 0:
        return f"No query is judged, so {name_a} and {name_b} cannot be compared."
    p = test.p_text
    over = f"over {test.queries} queries, paired randomization test"
    if test.difference == 0:
        return (f"{name_a} and {name_b} have the same mean {metric} ({test.mean_a:.3f}); "
                f"there is no difference to test ({p}, {over}).")
    better, worse = (name_a, name_b) if test.difference > 0 else (name_b, name_a)
    gap = abs(test.difference)
    if test.p_value < alpha:
        return (f"{better} is better than {worse} on {metric} by {gap:.3f}, and the difference "
                f"is beyond noise ({p}, below {alpha:g}; {over}).")
    return (f"{better} scores {gap:.3f} higher than {worse} on {metric}, but the difference is "
            f"within noise ({p}, not below {alpha:g}; {over}): these queries cannot tell the two "
            "apart.")
