"""``exp`` and ``ln`` from correctly rounded operations, against CPython's (glibc's) math."""
import math

import numpy as np

from tinybert_core.exact_math import exp, ln

RNG = np.random.default_rng(6)


def test_ln_is_within_three_units_in_the_last_place_of_math_log():
    xs = np.concatenate([RNG.random(20000), np.exp(RNG.uniform(-700, 700, 20000)),
                         1 + RNG.uniform(-1e-6, 1e-6, 2000),
                         [5e-324, 2.0 ** -104, 1 - 2 ** -53, 2.0, 3.0, 1.7e308]])
    for x in xs.tolist():
        assert abs(ln(x) - math.log(x)) <= 3 * math.ulp(math.log(x)), x
    assert ln(1.0) == 0.0


def test_exp_is_within_one_unit_in_the_last_place_of_math_exp():
    xs = np.concatenate([RNG.uniform(-30, 5, 20000), RNG.uniform(-708, 709.7, 20000),
                         RNG.uniform(-1e-6, 1e-6, 2000), [0.0, -0.0, 1.0, -1.0, 709.78]])
    for x in xs.tolist():
        assert abs(exp(x) - math.exp(x)) <= math.ulp(math.exp(x)), x
    assert exp(0.0) == 1.0 and exp(-745.3) == 0.0 and exp(-math.inf) == 0.0
    assert exp(710.0) == math.inf and exp(math.inf) == math.inf and math.isnan(exp(math.nan))
    assert 0 < exp(-745.1) <= 1e-323                     # subnormal results stay above 0
