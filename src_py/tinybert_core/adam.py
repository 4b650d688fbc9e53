"""Adam with bias correction and optional weight decay, over one flat array of parameters (pure).

Bit-identical in CPython and in the browser for the same gradients: only +, -, *, / and sqrt
are used (all correctly rounded in IEEE doubles), and ``beta ** t`` is kept as a running
product instead of a power, because ``Math.pow`` and libm ``pow`` may differ in the last bit.
"""
# Imported by name: in the transpiled code ``math.f`` goes through a property getter.
from math import sqrt

from tinybert_core.arrays import zeros

DECAY_MODES = ['decoupled', 'l2']


def all_finite(values):
    """True if every value is a finite number (no NaN, no infinity)."""
    for i in range(len(values)):
        v = values[i]
        if not (v - v == 0):   # NaN - NaN and inf - inf are NaN, never 0
            return False
    return True


class Adam:
    """Adam state for ``size`` parameters.

    learning_rate: step size; beta1, beta2, eps: the usual moment constants;
    weight_decay: 0 for none; decay_mode: ``'decoupled'`` (AdamW: ``p -= lr * wd * p`` beside
    the Adam step) or ``'l2'`` (``wd * p`` added to the gradient before the moments).
    Raises ValueError for an unknown decay_mode (the message lists the allowed ones).
    """

    def __init__(self, size, learning_rate, beta1, beta2, eps, weight_decay, decay_mode):
        if decay_mode not in DECAY_MODES:
            raise ValueError("Unknown weight decay mode '" + str(decay_mode) + "'; allowed: "
                             + ", ".join(DECAY_MODES) + ".")
        self.size = size
        self.learning_rate = learning_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weight_decay = weight_decay
        self.decoupled = decay_mode == 'decoupled'
        self.m = zeros(size)
        self.v = zeros(size)
        self.steps = 0
        self.beta1_power = 1.0
        self.beta2_power = 1.0

    def step(self, params, grads):
        """Update ``params`` in place from ``grads`` (both ``size`` long).

        Returns True if the step was applied, False if it was skipped because a gradient was
        not finite (the parameters and the moments are then left untouched).
        """
        if not all_finite(grads):
            return False
        self.apply(params, grads)
        return True

    def apply(self, params, grads):
        """The update of ``step`` without the finiteness check, for callers that have already
        checked ``grads`` (the trainer folds that check into a loop it runs anyway)."""
        self.steps += 1
        self.beta1_power = self.beta1_power * self.beta1
        self.beta2_power = self.beta2_power * self.beta2
        lr = self.learning_rate
        b1 = self.beta1
        b2 = self.beta2
        c1 = 1.0 - self.beta1_power
        c2 = 1.0 - self.beta2_power
        wd = self.weight_decay
        coupled_wd = 0.0 if self.decoupled else wd
        decoupled_wd = wd if self.decoupled else 0.0
        eps = self.eps
        m = self.m
        v = self.v
        for i in range(self.size):
            g = grads[i] + coupled_wd * params[i]
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            update = (m[i] / c1) / (sqrt(v[i] / c2) + eps)
            params[i] = params[i] - lr * (update + decoupled_wd * params[i])
        return None
