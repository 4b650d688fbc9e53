"""Quantisation of FL updates: which int8 scheme, what it costs, how fast the codec is.

``python -m bench fl_codec`` (once registered) or ``run(argv)``. Compares, on deltas from
simulated local training of the 3 x 384 head: one float32 scale per tensor vs one per row,
round-to-nearest vs stochastic rounding; error of one client's delta and of the FedAvg mean
of 10 clients, relative to the float64 truth. Also times the shipped codec (CPython) and
reports the payload size. Writes ``bench/results/fl_codec.json``.
"""
import argparse
import json
import os
import time

import numpy as np

from bench import RESULTS

K, D = 3, 384


def simulated_delta(rng, means, examples=20, epochs=5, lr=0.5):
    """The head delta of a few epochs of softmax SGD on one client's unit embeddings, drawn
    around class ``means`` shared by the federation."""
    labels = rng.integers(0, K, size=examples)
    x = means[labels] + rng.normal(scale=2.0, size=(examples, D))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    w, b = np.zeros((K, D)), np.zeros(K)
    for _ in range(epochs):
        logits = x @ w.T + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(examples), labels] -= 1
        w -= lr * p.T @ x / examples
        b -= lr * p.mean(axis=0)
    return np.concatenate([w.ravel(), b])


def quantise(delta, per_row, stochastic, rng):
    """Dequantised ``delta`` under one scheme (bias is one more row)."""
    rows = [delta[r * D:(r + 1) * D] for r in range(K)] + [delta[K * D:]]
    if not per_row:
        top = np.abs(delta).max()
        scales = [top / 127] * len(rows)
    else:
        scales = [np.abs(row).max() / 127 for row in rows]
    out = []
    for row, scale in zip(rows, scales):
        scale = np.float32(scale).item()
        if scale == 0:
            out.append(np.zeros_like(row))
            continue
        v = row / scale
        if stochastic:
            q = np.floor(v + rng.random(v.shape))
        else:
            q = np.sign(v) * np.floor(np.abs(v) + 0.5)
        out.append(np.clip(q, -127, 127) * scale)
    return np.concatenate(out)


def compare_schemes(seed=0, clients=10, trials=20):
    rng = np.random.default_rng(seed)
    schemes = {"per_tensor_nearest": (False, False), "per_tensor_stochastic": (False, True),
               "per_row_nearest": (True, False), "per_row_stochastic": (True, True)}
    single = {name: [] for name in schemes}
    mean = {name: [] for name in schemes}
    for _ in range(trials):
        means = rng.normal(size=(K, D))
        deltas = [simulated_delta(rng, means) for _ in range(clients)]
        truth = np.mean(deltas, axis=0)
        for name, (per_row, stochastic) in schemes.items():
            q = [quantise(d, per_row, stochastic, rng) for d in deltas]
            single[name].append(np.linalg.norm(q[0] - deltas[0]) / np.linalg.norm(deltas[0]))
            mean[name].append(np.linalg.norm(np.mean(q, axis=0) - truth) / np.linalg.norm(truth))
    return {name: {"single_rel_error": float(np.mean(single[name])),
                   "fedavg_of_%d_rel_error" % clients: float(np.mean(mean[name]))}
            for name in schemes}


def time_codec(repeats=50):
    from tinybert_core import codec
    rng = np.random.default_rng(1)
    delta = simulated_delta(rng, rng.normal(size=(K, D)))
    update = codec.Update(1, 1, 0, 20, K, D, delta[:K * D].tolist(), delta[K * D:].tolist())
    start = time.perf_counter()
    for _ in range(repeats):
        data = codec.encode_update(update, 10.0)
    encode = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for _ in range(repeats):
        codec.decode_update(data)
    decode = (time.perf_counter() - start) / repeats
    head = codec.encode_head(codec.Head(1, K, D, delta[:K * D].tolist(), delta[K * D:].tolist()))
    return {"update_bytes": len(data), "float32_delta_bytes": 4 * (K * D + K),
            "head_bytes": len(head), "cpython_encode_ms": encode * 1e3,
            "cpython_decode_ms": decode * 1e3}


def run(argv=None):
    """Run the comparison and timings; write and return the results."""
    parser = argparse.ArgumentParser(prog="bench fl_codec")
    parser.add_argument("--out", default=os.path.join(RESULTS, "fl_codec.json"))
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args(argv or [])
    results = {"schemes": compare_schemes(trials=args.trials), "codec": time_codec()}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    return results
