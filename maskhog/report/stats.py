"""The compliance rate and its 95% interval."""

from __future__ import annotations

import math

__all__ = ["wilson", "Z95"]

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a proportion ``successes / n``.

    Unlike the normal approximation (rate +- z * sqrt(rate (1 - rate) / n)) it
    stays within [0, 1] and is honest for small ``n`` and rates near 0 or 1,
    which a door with few people gives every day.

    Returns
    -------
    (low, high) : tuple of float
        ``(nan, nan)`` when ``n`` is 0.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. JASA 22(158), 209-212.
    """
    if n <= 0:
        return math.nan, math.nan
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)
