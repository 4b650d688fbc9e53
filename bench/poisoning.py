"""Poisoning: ``python -m bench poisoning`` (by name; ``--rounds``, ``--clients``, ``--set``).

Question: when 10 % or 20 % of a federation's clients are attackers, how far does the global
head's held-out accuracy fall from the clean run's, for each aggregator of the plain mode and
for FedAvg with norm clipping in the secure mode; which setting keeps it within 3 points at
20 % attackers?

Protocol (the machinery of ``bench/fl_simulation.py``, imported):
- Set ``domain`` (sentence source, 3 labels; ``--set`` for another), embedded by the
  product's INT8 encoder; 1,000 held-out rows (``protocol.split``, draw 0); CLIENTS clients
  with 10-30 examples each, Dirichlet(0.5) label mix (``fl_simulation.partition``, seed 0);
  clients that cannot train (one label) take no part. The attackers are a seeded random
  choice of round(fraction x able clients); the same for every aggregator.
- Every round every client trains from the global head (``fl_client_sim.train_local``: the
  page's ``local_update``, 5 epochs; round 1: class statistics), clips its delta to
  CLIP_BOUND (30) and quantises it to int8 (``codec.encode_update``/``decode_update``), as
  the page does. Attackers then send, within what the server accepts (norm <= CLIP_BOUND):
  ``scaled``: 10 x their honest delta, clipped to the bound; ``sign_flip``: -10 x it,
  clipped; ``label_flip``: an honest delta trained on labels shifted by one (k -> k+1 mod
  labels). Every attacker claims 1,000 examples (FedAvg weighs by the claimed count; the
  plain mode does not cap it, the secure mode caps it at SECURE_WEIGHT_CAP, default 1,000).
- Server, in-process (``fl.aggregators`` as ``fl.strategies`` applies them; round 1 the
  prototype head of the aggregated statistics): plain ``fedavg``, ``median``,
  ``trimmed_mean`` (trim 0.25), ``krum`` (multi-Krum: f = the attackers of the 20 % run,
  the n - f best averaged); secure: FedAvg of clipped inputs with each weight capped at
  1,000 (the default) or at 1 (each member counts once, as under client-level DP), the
  latter also with CLIP_BOUND 4 (about the honest deltas' median norm, 3-4 in
  ``fl_simulation``; the clients clip to it too). In
  secure mode the server cannot check an input (it only sees the masked sum): an attacker
  who leaves the page's code can send any vector and weight that fit 32-bit words, which no
  setting here bounds; the runs model attackers who stay within the encoding's bounds.
- Accuracy of the head after the last round on the held-out rows; the clean run of each
  aggregator is its reference.

Writes ``bench/results/poisoning.{json,md}``.
"""
import argparse
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from bench import fl_simulation as sim
from bench import protocol, save_results
from bench.fl_client_sim import clipped_delta, train_local
from fl.aggregators import build_aggregator, clip_rows
from fl.first_round import prototype_head
from tinybert_core.codec import Head, Update, decode_update, encode_update
from tinybert_core.train import DEFAULTS

SET = "domain"
CLIENTS = 50
SIZES = (10, 30)
ROUNDS = 10
CLIP = 30.0
CLAIMED = 1000
FRACTIONS = (0.1, 0.2)
ATTACKS = ("scaled", "sign_flip", "label_flip")
GOAL_POINTS = 3.0


def _client_task(task):
    """One client's int8 delta (flat float64) for a round, attacked as ``attack`` says."""
    labels, rows, head, options, attack, client_id, clip = task
    X, y = sim._DATA["X"], sim._DATA["y"]
    xs = [list(map(float, X[i])) for i in rows]
    ys = [int(y[i]) for i in rows]
    if attack == "label_flip":
        ys = [(v + 1) % len(labels) for v in ys]
    local = train_local(labels, head.cols, xs, ys, head, options)
    clipped, _ = clipped_delta(local, head, clip)
    flat = np.concatenate([clipped["weights"], clipped["bias"]])
    if attack in ("scaled", "sign_flip"):
        flat = clip_rows(flat[None, :] * (10.0 if attack == "scaled" else -10.0), clip)[0]
    split = head.rows * head.cols
    data = encode_update(Update(client_id, head.version + 1, head.version, len(xs), head.rows,
                                head.cols, flat[:split].tolist(), flat[split:].tolist()),
                         clip)
    decoded = decode_update(data)
    count = CLAIMED if attack else len(xs)
    return np.concatenate([decoded.weights, decoded.bias]), count


def rules(f):
    """name -> (mode, aggregate(deltas, counts), clip bound); f: the Krum's tolerated
    attackers."""
    def secure(cap, clip=CLIP):
        rule = build_aggregator("fedavg", clip_bound=clip)
        return lambda deltas, counts: rule(deltas, np.minimum(counts, cap))

    def multi_krum(deltas, counts):
        n = len(deltas)
        return build_aggregator("krum", clip_bound=CLIP, byzantine=f,
                                select=max(1, n - f))(deltas, counts)

    return {
        "fedavg": ("plain", build_aggregator("fedavg", clip_bound=CLIP), CLIP),
        "median": ("plain", build_aggregator("median", clip_bound=CLIP), CLIP),
        "trimmed_mean": ("plain", build_aggregator("trimmed_mean", clip_bound=CLIP, trim=0.25),
                         CLIP),
        "krum": ("plain", multi_krum, CLIP),
        "secure_fedavg_cap1000": ("secure", secure(1000), CLIP),
        "secure_fedavg_cap1": ("secure", secure(1), CLIP),
        "secure_fedavg_cap1_clip4": ("secure", secure(1, 4.0), 4.0),
    }


def run_rounds(labels, clients, attackers, attack, rule, clip, pool, Xt, yt, rounds):
    """The federation's rounds with ``rule`` and clip bound ``clip``; returns the accuracy
    after each round."""
    head = Head(0, len(labels), Xt.shape[1], [0.0] * (len(labels) * Xt.shape[1]),
                [0.0] * len(labels))
    options = {"epochs": DEFAULTS["epochs"]}
    history = []
    for _ in range(rounds):
        tasks = [(labels, rows, head, options, attack if j in attackers else None, j + 1,
                  clip) for j, rows in enumerate(clients)]
        results = list(pool.map(_client_task, tasks))
        step = rule(np.stack([d for d, _ in results]),
                    np.array([c for _, c in results], dtype=np.float64))
        if head.version == 0:
            new = prototype_head(step, head.rows, head.cols)
        else:
            new = np.concatenate([head.weights, head.bias]) + step
        new = new.astype(np.float32).astype(np.float64)
        split = head.rows * head.cols
        head = Head(head.version + 1, head.rows, head.cols, new[:split].tolist(),
                    new[split:].tolist())
        history.append(sim.accuracy(head.weights, head.bias, Xt, yt))
    return history


def markdown(results):
    s = results["settings"]
    lines = ["# Poisoning: attackers among the clients", "",
             "Set %s, %d clients (%d can train) with %d-%d examples, Dirichlet 0.5, %d rounds,"
             " clip %g, attackers claim %d examples; %d s on %s. Accuracy (%%) of the head "
             "after the last round on 1,000 held-out rows; in brackets the points lost against"
             " the same aggregator's clean run." % (
                 s["set"], s["clients"], s["able"], s["sizes"][0], s["sizes"][1], s["rounds"],
                 s["clip"], s["claimed"], results["seconds"], results["machine"]), "",
             "| aggregator | mode | clean | " + " | ".join(
                 "%s %d %%" % (a, round(100 * f)) for f in s["fractions"] for a in s["attacks"])
             + " |", "|---|---|---:|" + "---:|" * (len(s["fractions"]) * len(s["attacks"]))]
    for name, row in results["rows"].items():
        cells = []
        for f in s["fractions"]:
            for a in s["attacks"]:
                acc = row["attacked"]["%s@%g" % (a, f)]
                cells.append("%.1f (%+.1f)" % (100 * acc, 100 * (acc - row["clean"])))
        lines.append("| %s | %s | %.1f | %s |" % (name, row["mode"], 100 * row["clean"],
                                                  " | ".join(cells)))
    lines += ["", "Worst loss at 20 %% attackers (points) and the goal (within %g):" % GOAL_POINTS,
              ""]
    for name, row in results["rows"].items():
        lines.append("- %s: %.1f — %s" % (name, row["worst_loss_20"],
                                          "met" if row["worst_loss_20"] <= GOAL_POINTS
                                          else "missed"))
    return "\n".join(lines) + "\n"


def run(rounds=ROUNDS, clients=CLIENTS, name=SET):
    X, y, labels = protocol.load_set(name)[:3]
    sim._DATA["X"], sim._DATA["y"] = X, y
    train_rows, test_rows = protocol.split(y, len(labels), None, 0)
    Xt, yt = X[test_rows], y[test_rows]
    rng = np.random.default_rng(sim.SEED + clients)
    parts, _ = sim.partition(y, train_rows, len(labels), clients, SIZES, sim.ALPHA, rng)
    sim._DATA["X"], sim._DATA["y"] = X, y
    able = [rows for rows in parts if sim.can_train(labels, rows)]
    order = np.random.default_rng(1).permutation(len(able))
    f_max = int(round(max(FRACTIONS) * len(able)))
    start = time.perf_counter()
    out = {}
    with ProcessPoolExecutor(sim.WORKERS) as pool:
        for rule_name, (mode, rule, clip) in rules(f_max).items():
            row = {"mode": mode, "clip": clip, "attacked": {}, "histories": {}}
            row["histories"]["clean"] = run_rounds(labels, able, set(), None, rule, clip,
                                                   pool, Xt, yt, rounds)
            row["clean"] = row["histories"]["clean"][-1]
            for fraction in FRACTIONS:
                attackers = set(order[:int(round(fraction * len(able)))].tolist())
                for attack in ATTACKS:
                    key = "%s@%g" % (attack, fraction)
                    history = run_rounds(labels, able, attackers, attack, rule, clip, pool,
                                         Xt, yt, rounds)
                    row["histories"][key] = history
                    row["attacked"][key] = history[-1]
                    print("  %-22s %-22s %.3f (clean %.3f)" % (rule_name, key, history[-1],
                                                               row["clean"]), flush=True)
            row["worst_loss_20"] = max(100 * (row["clean"] - row["attacked"]["%s@%g" % (
                a, max(FRACTIONS))]) for a in ATTACKS)
            out[rule_name] = row
    results = {"settings": {"set": name, "clients": clients, "able": len(able),
                            "sizes": SIZES, "rounds": rounds, "clip": CLIP,
                            "claimed": CLAIMED, "fractions": FRACTIONS, "attacks": ATTACKS,
                            "krum_byzantine": f_max, "trim": 0.25},
               "rows": out, "seconds": round(time.perf_counter() - start),
               "machine": "%d CPUs, load %.1f" % (os.cpu_count(), os.getloadavg()[0]),
               "versions": {"python": platform.python_version(), "numpy": np.__version__}}
    save_results("poisoning", results, markdown(results))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.poisoning")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--set", default=SET)
    args = parser.parse_args()
    run(args.rounds, args.clients, args.set)
