"""Peer-to-peer federation simulated in one process: ``python -m bench gossip_simulation``.

Question: do browsers that only talk to each other (push-sum gossip over the project's int8
frames, ``tinybert_core.gossip``) reach what the server's FedAvg reaches on the same split and
rounds, also with label skew, churn and a poisoning peer?

Protocol:
- Sets TREC-6 (6 labels) and sentence source (3 labels), embedded by the product's INT8
  encoder (``bench/embed.py``); 1,000 held-out rows (``protocol.split``, draw 0).
- 8 peers with 20-60 examples each, label mix IID or Dirichlet(0.3) (``bench.fl_simulation
  .partition``).
- Start: each peer's class statistics (``tinybert_core.fl_local.class_statistics``) are mixed
  by push-sum for ``START_STEPS`` steps, then turned into the prototype head
  (``fl.first_round.prototype_head``), as the server's first round does for everyone.
- Each round: 1 local epoch (``tinybert_core.fl_local.local_update``, as the page trains for a
  federation: init 'keep', the page's other defaults, labels without local examples keep
  their rows) on the peer's own examples (a peer with one label does not train), then
  ``STEPS`` mixing steps with ``FANOUT`` random neighbours: frames encoded and decoded with
  the int8 codec, checked (a head longer than ``NORM_FACTOR`` times the receiver's is
  refused), pulled toward the receiver's head to within ``DISTANCE_FRACTION`` of its length,
  mixed by mass (capped at ``MASS_CAP_FACTOR`` times the receiver's example count).
- Server FedAvg on the same peers and rounds: the in-process replica of the server
  (``bench.fl_simulation.aggregate``) with 1 local epoch, int8 deltas.
- Churn: 2 of 8 peers leave at round ROUNDS/2; a 9th peer joins then: it mixes with almost no
  mass and takes what it receives as it is until frames from two peers reached it (its
  neighbours' heads), then trains and counts its examples like the others. The server's
  FedAvg gets the same churn.
- Poisoning: a 9th peer sends heads scaled x10 (refused as too long) and NaN frames
  (refused by the codec); the count of refused frames is reported.

Writes ``bench/results/gossip_simulation.{json,md}``.
"""
import time

import numpy as np

from bench import protocol, save_results
from bench.fl_simulation import accuracy, aggregate, partition
from fl.first_round import prototype_head
from tinybert_core import gossip
from tinybert_core.codec import Head, Update, decode_update, encode_update
from tinybert_core.fl_local import class_statistics, local_update

SETS = ['trec6', 'domain']
PEERS = 8
SIZES = (20, 60)
ROUNDS = 40
START_STEPS = 6
STEPS = 3
FANOUT = 2
CLIP_BOUND = 30.0
OPTIONS = {'epochs': 1, 'init': 'keep'}
SEED = 0


class Peer:
    """One browser: its examples, head and push-sum mass."""

    def __init__(self, pid, X, y, rows, labels):
        self.id = pid
        self.xs = [list(map(float, X[i])) for i in rows]
        self.ys = [int(y[i]) for i in rows]
        self.labels = labels
        self.count = float(len(rows))
        self.mass = self.count
        self.can_train = len(set(self.ys)) >= 2
        self.catching_up = False
        stats = class_statistics(self.xs, self.ys, len(labels), X.shape[1])
        self.weights, self.bias = list(stats['weights']), list(stats['bias'])

    def to_prototype(self):
        rows, cols = len(self.labels), len(self.weights) // len(self.labels)
        head = prototype_head(np.array(self.weights + self.bias), rows, cols)
        self.weights = head[:rows * cols].tolist()
        self.bias = head[rows * cols:].tolist()

    def join_late(self):
        """A peer that joins a running federation takes its neighbours' heads first: it
        mixes with almost no mass, and without pulling what it receives toward its own head,
        until frames from two peers arrived; then it trains and counts its examples."""
        self.catching_up = True
        self.mass = 1e-9

    def train(self):
        """One local epoch from the current head, as the page trains for a federation
        (``local_update``: labels without local examples keep their rows)."""
        if not self.can_train or self.catching_up:
            return
        local = local_update(self.labels, len(self.weights) // len(self.labels), self.xs,
                             self.ys, self.weights, self.bias, 1, OPTIONS)
        self.weights, self.bias = list(local['weights']), list(local['bias'])


def _frame(peer, round_id, step, share, scale=1.0):
    rows = len(peer.labels)
    weights = [scale * v for v in peer.weights]
    bias = [scale * v for v in peer.bias]
    data = gossip.encode_frame(peer.id, round_id, step, share, rows, len(weights) // rows,
                               weights, bias)
    return gossip.append_signature(data, bytes(64))


def _nan_frame(peer, round_id, step, share):
    """A frame whose head holds NaN: encoded honestly, then one scale overwritten."""
    data = bytearray(_frame(peer, round_id, step, share))
    data[20 + 32:20 + 36] = np.float32(np.nan).tobytes()
    return bytes(data)


def mixing_step(peers, round_id, step, rng, attacker=None, stats=False):
    """One push-sum step among ``peers`` (and an attacker's frames); returns bytes sent."""
    inbox = {p.id: [] for p in peers}
    sent = 0
    everyone = [p.id for p in peers] + ([attacker.id] if attacker else [])
    for p in peers + ([attacker] if attacker else []):
        others = [q for q in everyone if q != p.id]
        targets = gossip.pick_neighbours(others, FANOUT, int(rng.integers(2 ** 32)))
        share = gossip.share_of(p.mass, len(targets))
        if p is not attacker:
            p.mass = share
        for t in targets:
            if t not in inbox:
                continue
            if p is attacker and step % 2 == 1:
                data = _nan_frame(p, round_id, step, share)
            else:
                data = _frame(p, round_id, step, share, 10.0 if p is attacker else 1.0)
            sent += len(data)
            inbox[t].append(data)
    refused = 0
    for p in peers:
        received = []
        length = gossip.head_norm(p.weights, p.bias)
        for data in inbox[p.id]:
            try:
                frame = gossip.decode_frame(data)
                gossip.check_frame(frame, len(p.labels), len(p.weights) // len(p.labels),
                                   frame['sender'], None if stats
                                   else gossip.NORM_FACTOR * length)
            except gossip.GossipError:
                refused += 1
                continue
            if stats or p.catching_up:
                # Class statistics are averaged as they are; a peer catching up takes its
                # neighbours' heads (pulling them toward its own would keep it behind).
                pulled = frame
            else:
                pulled = gossip.pull_toward(p.weights, p.bias, frame['weights'], frame['bias'],
                                            gossip.DISTANCE_FRACTION * length)
            received.append({'weights': pulled['weights'], 'bias': pulled['bias'],
                             'mass': frame['mass']})
        mixed = gossip.mix(p.weights, p.bias, p.mass, received,
                           gossip.MASS_CAP_FACTOR * p.count)
        p.weights, p.bias, p.mass = mixed['weights'], mixed['bias'], mixed['mass']
        if p.catching_up and len(received) >= 2:
            p.catching_up = False
            p.mass += p.count
    mixing_step.refused += refused
    return sent


mixing_step.refused = 0


def peer_accuracies(peers, Xt, yt):
    return [accuracy(p.weights, p.bias, Xt, yt) for p in peers]


def run_gossip(X, y, labels, clients, Xt, yt, rng, churn=False, attack=False):
    peers = [Peer(i + 1, X, y, rows, labels) for i, rows in enumerate(clients[:PEERS])]
    attacker = None
    if attack:
        attacker = Peer(99, X, y, clients[PEERS], labels)
        attacker.mass = attacker.count
    for step in range(START_STEPS):
        mixing_step(peers, 0, step, rng, stats=True)
    for p in peers:
        p.to_prototype()
    if attacker is not None:
        attacker.to_prototype()
    history = [{'round': 0, 'accuracies': peer_accuracies(peers, Xt, yt)}]
    sent = []
    late = None
    for r in range(1, ROUNDS + 1):
        if churn and r == ROUNDS // 2 + 1:
            peers = peers[2:]
            late = Peer(50, X, y, clients[PEERS], labels)
            late.to_prototype()
            late.join_late()
            peers.append(late)
        for p in peers:
            p.train()
        total = 0
        for step in range(STEPS):
            total += mixing_step(peers, r, step, rng, attacker)
        sent.append(total / len(peers))
        entry = {'round': r, 'accuracies': peer_accuracies(peers, Xt, yt)}
        if late is not None:
            entry['late_peer'] = accuracy(late.weights, late.bias, Xt, yt)
        history.append(entry)
    return history, float(np.mean(sent))


def run_server(X, y, labels, clients, Xt, yt, churn=False):
    server = {'AGGREGATOR': 'fedavg', 'CLIP_BOUND': CLIP_BOUND}
    dim = X.shape[1]
    head = Head(0, len(labels), dim, [0.0] * (len(labels) * dim), [0.0] * len(labels))
    peers = [Peer(i + 1, X, y, rows, labels) for i, rows in enumerate(clients[:PEERS])]
    history = []
    for r in range(0, ROUNDS + 1):
        if churn and r == ROUNDS // 2 + 1:
            peers = peers[2:] + [Peer(50, X, y, clients[PEERS], labels)]
        deltas, counts = [], []
        for p in peers:
            if head.version == 0:
                local_w, local_b = p.weights, p.bias   # class statistics
            else:
                if not p.can_train:
                    continue
                local = local_update(labels, dim, p.xs, p.ys, head.weights, head.bias,
                                     head.version, OPTIONS)
                local_w, local_b = local['weights'], local['bias']
            delta = np.concatenate([np.subtract(local_w, head.weights),
                                    np.subtract(local_b, head.bias)])
            norm = float(np.linalg.norm(delta))
            if norm > CLIP_BOUND:
                delta *= CLIP_BOUND / norm
            split = len(labels) * dim
            data = encode_update(Update(p.id, r + 1, head.version, int(p.count), len(labels),
                                        dim, delta[:split].tolist(), delta[split:].tolist()),
                                 CLIP_BOUND)
            decoded = decode_update(data)
            deltas.append(np.concatenate([decoded.weights, decoded.bias]))
            counts.append(p.count)
        head = aggregate(head, deltas, counts, server)
        history.append({'round': r, 'accuracy': accuracy(head.weights, head.bias, Xt, yt)})
    return history


def summary(history, at):
    accs = history[at]['accuracies']
    return {'mean': float(np.mean(accs)), 'worst': float(np.min(accs))}


def scenario(name, X, y, labels, skew, rng):
    train_rows, test_rows = protocol.split(y, len(labels), None, 0)
    Xt, yt = X[test_rows], y[test_rows]
    alpha = 0.3 if skew else 1e6   # a huge alpha is an IID label mix
    clients, _ = partition(y, train_rows, len(labels), PEERS + 1, SIZES, alpha, rng)
    start = time.perf_counter()
    server = run_server(X, y, labels, clients, Xt, yt)
    server_churn = run_server(X, y, labels, clients, Xt, yt, churn=True)
    plain, frame_bytes = run_gossip(X, y, labels, clients, Xt, yt, rng)
    churn, _ = run_gossip(X, y, labels, clients, Xt, yt, rng, churn=True)
    mixing_step.refused = 0
    poisoned, _ = run_gossip(X, y, labels, clients, Xt, yt, rng, attack=True)
    out = {'skew': skew, 'server_fedavg': [e['accuracy'] for e in server],
           'server_fedavg_churn': [e['accuracy'] for e in server_churn],
           'poison_frames_refused': mixing_step.refused,
           'gossip': [summary(plain, r) for r in range(ROUNDS + 1)],
           'churn': [summary(churn, r) for r in range(ROUNDS + 1)],
           'late_peer': [e.get('late_peer') for e in churn],
           'poisoned': [summary(poisoned, r) for r in range(ROUNDS + 1)],
           'bytes_sent_per_peer_per_round': frame_bytes,
           'seconds': time.perf_counter() - start}
    return out


def markdown(results):
    lines = ['# Gossip (peer to peer) vs server FedAvg', '',
             'Simulated in one process (see `bench/gossip_simulation.py`): %d peers with %d-%d '
             'examples, 1 local epoch a round, %d mixing steps with %d random neighbours, int8 '
             'frames; a received head longer than %.0fx the own one is refused, the rest '
             'pulled to within %.2f of the own length; mass cap %.0fx own examples.'
             % (PEERS, SIZES[0], SIZES[1], STEPS, FANOUT, gossip.NORM_FACTOR,
                gossip.DISTANCE_FRACTION, gossip.MASS_CAP_FACTOR), '',
             '| set | label mix | round | server FedAvg | gossip mean / worst | '
             'server FedAvg, churn | gossip, churn mean / worst | '
             'gossip with a x10 / NaN peer mean / worst |',
             '|---|---|---:|---:|---:|---:|---:|---:|']
    for name, by_skew in results['sets'].items():
        for key, r in by_skew.items():
            for at in (20, 40):
                g, c, p = r['gossip'][at], r['churn'][at], r['poisoned'][at]
                lines.append('| %s | %s | %d | %.3f | %.3f / %.3f | %.3f | %.3f / %.3f | '
                             '%.3f / %.3f |'
                             % (name, key, at, r['server_fedavg'][at], g['mean'], g['worst'],
                                r['server_fedavg_churn'][at], c['mean'], c['worst'],
                                p['mean'], p['worst']))
    lines += ['', 'Late peer (joins at round %d) after 5 rounds vs the others\' mean:' %
              (ROUNDS // 2 + 1)]
    for name, by_skew in results['sets'].items():
        for key, r in by_skew.items():
            joined = ROUNDS // 2 + 5
            lines.append('- %s, %s: %.3f vs %.3f; bytes sent per peer per round: %.0f'
                         % (name, key, r['late_peer'][joined], r['churn'][joined]['mean'],
                            r['bytes_sent_per_peer_per_round']))
    return '\n'.join(lines) + '\n'


def run():
    rng = np.random.default_rng(SEED)
    results = {'settings': {'peers': PEERS, 'sizes': SIZES, 'rounds': ROUNDS, 'steps': STEPS,
                            'fanout': FANOUT, 'norm_factor': gossip.NORM_FACTOR,
                            'distance_fraction': gossip.DISTANCE_FRACTION,
                            'start_steps': START_STEPS, 'options': OPTIONS}, 'sets': {}}
    for name in SETS:
        X, y, labels = protocol.load_set(name)
        results['sets'][name] = {}
        for skew in (False, True):
            key = 'Dirichlet 0.3' if skew else 'IID'
            print('  %s, %s...' % (name, key), flush=True)
            results['sets'][name][key] = scenario(name, X, y, labels, skew, rng)
    save_results('gossip_simulation', results, markdown(results))
    return results

