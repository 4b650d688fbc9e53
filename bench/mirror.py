"""A numpy mirror of ``tinybert_core.train.train_head``, for fast hyper-parameter sweeps only.

Same algorithm step for step (prototype/zeros init, class weights, mulberry32 shuffling, mean
weighted cross-entropy per mini-batch, Adam with bias correction, weight decay on W only);
``check()`` confirms that it reproduces the shipped code's weights to ~1e-12 before a sweep
trusts it. The benchmark itself always runs the shipped code. Two knobs exist only here, to
record variants the sweep rejected: ``init='unit_prototype'`` and ``adam_eps``.
"""
import numpy as np

from tinybert_core.rng import Rng
from tinybert_core.train import DEFAULTS


def _options(options):
    out = dict(DEFAULTS)
    out['adam_eps'] = 1e-8          # sweep-only knob: the shipped trainer uses 1e-8
    out.update(options or {})
    return out


def _init(X, y, n_labels, opts, counts):
    dim = X.shape[1]
    W = np.zeros((n_labels, dim))
    b = np.zeros(n_labels)
    if opts['init'] == 'zeros':
        return W, b
    if opts['init'] == 'unit_prototype':
        # Rejected variant (sweep only): unit-length class means, bias centring every label's
        # mean logit over the class means.
        means = np.stack([X[y == k].mean(axis=0) if counts[k] else np.zeros(dim)
                          for k in range(n_labels)])
        present = counts > 0
        for k in np.flatnonzero(present):
            W[k] = opts['scale'] * means[k] / np.linalg.norm(means[k])
        b = -(W @ means[present].T).sum(axis=1) / present.sum()
        b[~present] = -opts['scale']
        return W, b
    for k in range(n_labels):
        if counts[k] == 0:
            b[k] = -2.0 * opts['scale']
            continue
        mean = X[y == k].sum(axis=0) / counts[k]
        W[k] = opts['scale'] * mean
        b[k] = -0.5 * opts['scale'] * float(mean @ mean)
    return W, b


def train(X, y, n_labels, options, eval_sets=()):
    """Train like train_head; return (W, b, per-epoch list of accuracies on each eval set)."""
    opts = _options(options)
    n = len(y)
    counts = np.bincount(y, minlength=n_labels)
    present = int((counts > 0).sum())
    if opts['balance']:
        cw = np.where(counts > 0, n / (present * np.maximum(counts, 1)), 0.0)
    else:
        cw = np.where(counts > 0, 1.0, 0.0)
    W, b = _init(X, y, n_labels, opts, counts)
    lr, wd = opts['learning_rate'], opts['weight_decay']
    coupled = opts['decay_mode'] == 'l2'
    mW, vW, mb, vb = np.zeros_like(W), np.zeros_like(W), np.zeros_like(b), np.zeros_like(b)
    p1 = p2 = 1.0
    rng = Rng(opts['seed'])
    order = list(range(n))
    history = []
    for _ in range(opts['epochs']):
        rng.shuffle(order)
        for start in range(0, n, opts['batch_size']):
            idx = order[start:start + opts['batch_size']]
            Xb, yb = X[idx], y[idx]
            logits = Xb @ W.T + b
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            p = e / e.sum(axis=1, keepdims=True)
            p[np.arange(len(idx)), yb] -= 1.0
            delta = p * cw[yb][:, None]
            gW = delta.T @ Xb / len(idx)
            gb = delta.sum(axis=0) / len(idx)
            p1 *= 0.9
            p2 *= 0.999
            if coupled:
                gW = gW + wd * W
            mW = 0.9 * mW + (1 - 0.9) * gW
            vW = 0.999 * vW + (1 - 0.999) * gW * gW
            mb = 0.9 * mb + (1 - 0.9) * gb
            vb = 0.999 * vb + (1 - 0.999) * gb * gb
            step_w = (mW / (1 - p1)) / (np.sqrt(vW / (1 - p2)) + opts['adam_eps'])
            W = W - lr * (step_w + (0.0 if coupled else wd) * W)
            b = b - lr * (mb / (1 - p1)) / (np.sqrt(vb / (1 - p2)) + opts['adam_eps'])
        history.append([float(((Xe @ W.T + b).argmax(axis=1) == ye).mean())
                        for Xe, ye in eval_sets])
    return W, b, history


def check(X, y, n_labels, options):
    """Largest absolute difference between mirror and shipped weights after training."""
    from tinybert_core.head import LinearHead
    from tinybert_core.train import train_head
    W, b, _ = train(X, y, n_labels, options)
    head = LinearHead(['l%d' % i for i in range(n_labels)], X.shape[1])
    train_head(head, [list(map(float, r)) for r in X], [int(v) for v in y], options)
    return max(float(np.abs(np.array(head.weights).reshape(W.shape) - W).max()),
               float(np.abs(np.array(head.bias) - b).max()))
