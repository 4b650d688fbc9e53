"""Accuracy vs differential privacy over ten rounds: ``python -m bench dp_rounds``.

The mechanisms measured here were the first ones built and are not what the product uses:
``bench/dp_accuracy.py`` measures the product's (one release of noisy class sums), which costs
far less. Kept as the record of why.

Question (issue 14): what does an epsilon cost in held-out accuracy, for client-level DP-FedAvg
on a secure federation (goal: at N = 100, epsilon 8 costs at most 3 points vs no DP) and for
example-level DP-SGD in each browser (goal: N = 10 browsers x 20-60 examples, epsilon 8 costs
at most 5 points), and which mode should the page offer for which cohort size?

Protocol (delta 1e-5 everywhere; epsilon by dp-accounting's RDP accountant, ``fl.privacy``):
- Data, split, clients: ``bench/fl_simulation.py`` by import: TREC-6 and sentence source
  (the sets whose embeddings ``bench/embed.py`` cached in ``.cache/bench``), 1,000 held-out
  rows (``protocol.split`` draw 0), Dirichlet(0.5) label mixes, 10 clients of 20-60 examples
  or 100 of 10-30 (``partition``, seed as fl_simulation), clients with one label left out
  (``can_train``), 10 rounds, 5 local epochs (the page's options), ``_replica_task`` for the
  local update (``tinybert_core.fl_local.local_update``) and its clipping.
- **Client-level** (``fl.client_privacy``, as ``fl.secure_rounds._finish``): every member's
  update clipped to C and encoded with weight 1 (``secagg.encode_input``, fixed-point scale of
  the cohort for weight cap 1 and that clip, stochastic rounding), the words summed mod 2^32
  and decoded (masks cancel exactly, so none are drawn), ``client_privacy.noised`` adds
  N(0, (zC)^2) to the sum (its generator seeded from the run's seed here, the CSPRNG in
  production), divided by the number of members; round 1 makes the prototype head of the
  noised class statistics, later rounds add the step. z: ``privacy.noise_for_epsilon`` for
  epsilon over the 10 releases (every member every round). Round 1's class statistics have
  L2 norm at most sqrt(2) (unit embeddings), so that round uses the bound min(C, sqrt 2) and
  noise z x min(C, sqrt 2) (same z, so the same epsilon per release; the server today uses
  one CLIP_BOUND for both, which equals this for C <= sqrt 2). C in CLIPS for the delta
  rounds (CLIPS_100 for N = 100, for time), the best chosen on seed 0 (on the held-out rows:
  optimistic): N = 10 per epsilon; N = 100 at epsilon 8, that C kept for 4 and 1. At
  epsilon 8 SEEDS noise draws (median); at 4 and 1 one draw. Epsilon inf: the product's
  secure mode without DP
  (``bench/secure_aggregation.run_secure_replica``: clip 30, weight = example count).
- **Example-level**: every browser trains with DP-SGD (``dp_noise_multiplier``, ``dp_clip``
  DP_SGD_CLIP, FED_DP_SGD's batch, epochs and learning rate; random bytes from os.urandom),
  z calibrated per browser with ``privacy.noise_for_epsilon`` for its sampling rate
  min(batch, n)/n and all its steps (10 rounds x epochs x ceil(n/batch)), and the spent
  epsilon checked with ``privacy.epsilon`` of ``train.dp_event_of`` composed 10 times. The
  class-statistics round is not private (``fl_local`` refuses it), so the global head starts at
  zeros and all 10 rounds train; the server averages the updates (plain FedAvg weighted by
  example count, clip 30: ``fl_simulation.aggregate``). Epsilon inf: the product without DP
  (class statistics, then plain local training; ``fl_simulation.run_replica``, float deltas);
  also z = 0 with the same clipping and zero start, which separates the protocol's cost from
  the noise's (one run). SEEDS runs each (fresh noise), median.
- **One browser alone**: 20 examples per label (``protocol.split`` draw = seed, its 1,000
  held-out rows), ``train_head`` from scratch: no DP with the page's defaults (prototype init,
  class weights) vs DP-SGD (init zeros, no class weights, clip DP_SGD_CLIP, 5 epochs) at each
  epsilon; SEEDS draws, median.

Writes ``bench/results/dp_rounds.{json,md}``.
"""
import functools
import logging
import math
import multiprocessing
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from bench import fl_simulation as fls
from bench import progress_log, protocol, save_results
from bench import secure_aggregation as sa
from bench.fl_client_sim import clipped_delta
from fl import client_privacy, privacy
from fl.first_round import prototype_head
from tinybert_core import secagg
from tinybert_core.codec import Head
from tinybert_core.dp_random import SystemRandomBytes
from tinybert_core.fl_local import local_update
from tinybert_core.head import LinearHead
from tinybert_core.train import DEFAULTS, dp_event_of, train_head

SETS = ['trec6', 'domain']
EPSILONS = [1.0, 4.0, 8.0, math.inf]
DELTA = 1e-5
ROUNDS = fls.ROUNDS
CLIPS = [1.0, 3.0, 10.0]
CLIPS_100 = [1.0, 3.0]    # N = 100 (time): C = 10 makes the noise on the mean zC/N = 0.2
STATS_BOUND = math.sqrt(2.0)
DP_SGD_CLIP = 1.0
PRODUCT_CLIP = 30.0
SEEDS = [0, 1, 2]
# Example-level DP-SGD in the federation: full batches (batch_size above every browser's n, so
# q = 1 and one z for all), 1 epoch a round, learning rate 0.05. Measured on the sentence set
# (N = 10, epsilon 8, 10 rounds): 68 % vs 42 % with batch 64 and 5 epochs, 37 % with the
# page's batch 16 and 5 epochs (more steps need more noise). PAGE_DP_SGD: the page's options.
FED_DP_SGD = {'batch_size': 64, 'epochs': 1, 'learning_rate': 0.05}
PAGE_DP_SGD = {'batch_size': DEFAULTS['batch_size'], 'epochs': DEFAULTS['epochs'],
               'learning_rate': DEFAULTS['learning_rate']}
SHOTS = 20
GOAL_CLIENT = 0.03      # N = 100, epsilon 8
GOAL_EXAMPLE = 0.05     # N = 10, epsilon 8


@functools.cache
def calibrated(eps, q, steps):
    """``privacy.noise_for_epsilon`` at DELTA (cached: a few seconds a call with q < 1)."""
    return privacy.noise_for_epsilon(eps, DELTA, q, steps)


def _eps_key(eps):
    return 'inf' if math.isinf(eps) else '%g' % eps


def _empty_head(labels, dim, version=0):
    return Head(version, len(labels), dim, [0.0] * (len(labels) * dim), [0.0] * len(labels))


# --- client-level DP-FedAvg on secure sums -----------------------------------------------

def noised_secure_step(head, deltas, clip, z, rng, noise_bits):
    """``fl.secure_rounds._finish`` with client privacy, without masks: each delta (clipped to
    ``clip``) encoded with weight 1, summed mod 2^32, decoded, plus N(0, (z clip)^2) from
    ``client_privacy.noised``, divided by the members; prototype head from version 0, else
    head + step (float32)."""
    scale = secagg.fixed_point_scale(len(deltas), 1, clip)
    split = head.rows * head.cols
    total = np.zeros(secagg.input_length(head.rows, head.cols), dtype=np.uint32)
    for delta in deltas:
        words = secagg.encode_input(delta[:split].tolist(), delta[split:].tolist(), 1, scale,
                                    clip, 1, rng.bytes(4 * len(delta)))
        total += np.array(words, dtype=np.uint32)
    sums = secagg.decode_sum(total.tolist(), scale, head.rows, head.cols)
    summed = np.concatenate([sums['weights'], sums['bias']])
    if z > 0:
        summed = client_privacy.noised(summed, z, clip, random_bits=noise_bits)
    step = summed / float(sums['weight'])
    if head.version == 0:
        new = prototype_head(step, head.rows, head.cols)
    else:
        new = np.concatenate([head.weights, head.bias]).astype(np.float64) + step
    new = new.astype(np.float32)
    return Head(head.version + 1, head.rows, head.cols, new[:split].astype(np.float64).tolist(),
                new[split:].astype(np.float64).tolist())


def run_client_level(labels, clients, pool, Xt, yt, clip, z, seed):
    """10 rounds of client-level DP-FedAvg; returns the accuracy after each round (0..10)."""
    options, _ = fls.product_settings()
    rng = np.random.default_rng(10_000 + seed)
    head = _empty_head(labels, Xt.shape[1])
    accs = [fls.accuracy(head.weights, head.bias, Xt, yt)]
    for r in range(1, ROUNDS + 1):
        bound = min(clip, STATS_BOUND) if head.version == 0 else clip
        tasks = [(labels, rows, head, options, bound, False, j + 1)
                 for j, rows in enumerate(clients)]
        deltas = [d for d, _, _ in pool.map(fls._replica_task, tasks)]
        head = noised_secure_step(head, deltas, bound, z, rng, seed * 1_000_003 + r)
        accs.append(fls.accuracy(head.weights, head.bias, Xt, yt))
    return accs


# --- example-level DP-SGD in each browser --------------------------------------------------

def _dp_sgd_task(task):
    """One browser's DP-SGD update from the global head, clipped to the server's bound."""
    labels, rows, head, options, bound = task
    xs, ys = fls._lists(rows)
    local = local_update(labels, head.cols, xs, ys, head.weights, head.bias, head.version,
                         options, SystemRandomBytes())
    clipped, norm = clipped_delta(local, head, bound)
    return np.concatenate([clipped['weights'], clipped['bias']]), len(xs), norm


def dp_sgd_options(n, eps, base=None):
    """``base`` (FED_DP_SGD by default) plus DP-SGD calibrated to ``eps`` over all of a
    browser's steps (``n`` examples, ROUNDS rounds); returns (options, z, epsilon the
    accountant reports for them)."""
    options = dict(FED_DP_SGD if base is None else base, dp_clip=DP_SGD_CLIP)
    if math.isinf(eps):
        options['dp_noise_multiplier'] = 0.0
        return options, 0.0, math.inf
    size = options['batch_size']
    q = min(size, n) / n
    steps = ROUNDS * options['epochs'] * ((n + size - 1) // size)
    z = calibrated(eps, q, steps)
    options['dp_noise_multiplier'] = z
    spent = privacy.epsilon({'type': 'self_composed', 'count': ROUNDS,
                             'event': dp_event_of(options, n)}, DELTA)
    assert spent <= eps + 1e-6, (spent, eps)
    return options, z, spent


def run_example_level(labels, clients, pool, Xt, yt, eps, base=None):
    """10 rounds where every browser trains with DP-SGD from a zero head; returns
    (accuracies 0..10, per-browser z, the largest spent epsilon)."""
    _, server = fls.product_settings()
    plans = [dp_sgd_options(len(rows), eps, base) for rows in clients]
    head = _empty_head(labels, Xt.shape[1], version=1)   # no class-statistics round
    accs = [fls.accuracy(head.weights, head.bias, Xt, yt)]
    for _ in range(ROUNDS):
        tasks = [(labels, rows, head, plan[0], server['CLIP_BOUND'])
                 for rows, plan in zip(clients, plans)]
        results = list(pool.map(_dp_sgd_task, tasks))
        head = fls.aggregate(head, [d for d, _, _ in results], [n for _, n, _ in results],
                             server)
        accs.append(fls.accuracy(head.weights, head.bias, Xt, yt))
    return accs, [p[1] for p in plans], max(p[2] for p in plans)


# --- one browser alone ---------------------------------------------------------------------

def single_browser(X, y, labels, eps, seed):
    train_rows, test_rows = protocol.split(y, len(labels), SHOTS, seed)
    xs = [list(map(float, X[i])) for i in train_rows]
    ys = [int(y[i]) for i in train_rows]
    head = LinearHead(labels, X.shape[1])
    if eps is None:
        train_head(head, xs, ys, {})
        z = spent = None
    else:
        options, z, spent = dp_sgd_options_single(len(xs), eps)
        train_head(head, xs, ys, options, None, SystemRandomBytes())
    return fls.accuracy(head.weights, head.bias, X[test_rows], y[test_rows]), z, spent


def dp_sgd_options_single(n, eps):
    size = DEFAULTS['batch_size']
    steps = DEFAULTS['epochs'] * ((n + size - 1) // size)
    z = calibrated(eps, min(size, n) / n, steps)
    options = {'dp_noise_multiplier': z, 'dp_clip': DP_SGD_CLIP}
    spent = privacy.epsilon(dp_event_of(options, n), DELTA)
    assert spent <= eps + 1e-6
    return options, z, spent


# --- the runs ------------------------------------------------------------------------------

def _median(values):
    return float(statistics.median(values))


def set_runs(name, log):
    X, y, labels = protocol.load_set(name)
    fls._DATA['X'], fls._DATA['y'] = X, y
    train_rows, test_rows = protocol.split(y, len(labels), None, 0)
    Xt, yt = X[test_rows], y[test_rows]
    out = {'client': {}, 'example': {}, 'single': {}}
    context = multiprocessing.get_context('fork')
    with ProcessPoolExecutor(fls.WORKERS, mp_context=context) as pool:
        cohorts = {}
        for n in (100, 10):
            rng = np.random.default_rng(fls.SEED + n)   # fl_simulation's partition draw
            clients, _ = fls.partition(y, train_rows, len(labels), n, fls.SCENARIOS[n],
                                       fls.ALPHA, rng)
            cohorts[n] = [rows for rows in clients if fls.can_train(labels, rows)]
        # client-level: no DP (the product's secure mode), then each epsilon
        for n in (100, 10):
            able = cohorts[n]
            entry = {'clients': n, 'can_train': len(able), 'sweep': {}, 'best': {}}
            start = time.perf_counter()
            options, _ = fls.product_settings()
            plain, _ = sa.run_secure_replica(labels, able, options, pool, Xt, yt, ROUNDS,
                                             sa.SEED + n)
            entry['inf'] = [e['accuracy'] for e in plain]
            log('%s N=%d client-level no DP: %.3f' % (name, n, entry['inf'][-1]))
            chosen = None
            for eps in (8.0, 4.0, 1.0):
                z = calibrated(eps, 1.0, ROUNDS)
                clips = CLIPS if n == 10 else (CLIPS_100 if chosen is None else [chosen])
                sweep = {}
                for clip in clips:
                    sweep['%g' % clip] = run_client_level(labels, able, pool, Xt, yt, clip, z,
                                                          SEEDS[0])
                    log('%s N=%d eps %g z %.3f C %g seed 0: %.3f' % (
                        name, n, eps, z, clip, sweep['%g' % clip][-1]))
                best = max(clips, key=lambda c: sweep['%g' % c][-1])
                chosen = best if chosen is None else chosen
                runs = [sweep['%g' % best]]
                # N = 100: the extra noise draws at epsilon 8 only (the goal), for time
                for seed in SEEDS[1:] if eps == 8.0 else []:
                    runs.append(run_client_level(labels, able, pool, Xt, yt, best, z, seed))
                    log('%s N=%d eps %g C %g seed %d: %.3f' % (name, n, eps, best, seed,
                                                                runs[-1][-1]))
                entry['sweep'][_eps_key(eps)] = {'z': z, 'final': {
                    k: v[-1] for k, v in sweep.items()}, 'rounds': sweep}
                entry['best'][_eps_key(eps)] = {
                    'clip': best, 'z': z,
                    'epsilon': privacy.epsilon_after_rounds([(z, 1.0)] * ROUNDS, DELTA),
                    'finals': [r[-1] for r in runs], 'median': _median([r[-1] for r in runs]),
                    'rounds_seed0': runs[0]}
            entry['seconds'] = time.perf_counter() - start
            out['client'][str(n)] = entry
        # example-level, N = 10
        able = cohorts[10]
        start = time.perf_counter()
        options, server = fls.product_settings()
        product = fls.run_replica(labels, able, options, server, pool, Xt, yt, False, ROUNDS)
        entry = {'clients': 10, 'can_train': len(able),
                 'sizes': [int(len(r)) for r in able],
                 'inf': [e['accuracy'] for e in product], 'by_epsilon': {}}
        log('%s N=10 example-level no DP (product): %.3f' % (name, entry['inf'][-1]))
        for eps in EPSILONS:
            runs, zs, spent = [], None, None
            for _ in SEEDS:
                accs, zs, spent = run_example_level(labels, able, pool, Xt, yt, eps)
                runs.append(accs)
                log('%s N=10 example-level eps %s: %.3f' % (name, _eps_key(eps), accs[-1]))
                if math.isinf(eps):
                    break       # z = 0: clipping only, one run
            entry['by_epsilon'][_eps_key(eps)] = {
                'z_min': min(zs), 'z_max': max(zs), 'epsilon_max': spent,
                'finals': [r[-1] for r in runs], 'median': _median([r[-1] for r in runs]),
                'rounds_first': runs[0]}
        entry['seconds'] = time.perf_counter() - start
        out['example']['10'] = entry
    # one browser alone
    start = time.perf_counter()
    single = {}
    for eps in [None] + EPSILONS[:-1]:
        finals, z, spent = [], None, None
        for seed in SEEDS:
            acc, z, spent = single_browser(X, y, labels, eps, seed)
            finals.append(acc)
        single['none' if eps is None else _eps_key(eps)] = {
            'z': z, 'epsilon': spent, 'finals': finals, 'median': _median(finals)}
        log('%s one browser eps %s: %s' % (name, eps, finals))
    out['single'] = {'examples': SHOTS * len(labels), 'by_epsilon': single,
                     'seconds': time.perf_counter() - start}
    return out


# --- report --------------------------------------------------------------------------------

def _pct(v):
    return '%.1f' % (100 * v)


def _pts(v):
    return '%+.1f' % (round(100 * v, 1) + 0.0)


def markdown(results):
    s = results['settings']
    lines = ['# Accuracy vs differential privacy over ten rounds (mechanisms the product no '
             'longer uses; see dp_accuracy.md)', '',
             'Settings: %s. Run time %.0f s; load average before/after %s (2 cores shared).'
             % (s['description'], results['seconds'], results['load_average']), '',
             'Held-out accuracy (%%, 1,000 rows) after %d rounds; delta %g; epsilon from '
             'dp-accounting (RDP).' % (ROUNDS, DELTA), '',
             '## Client-level DP-FedAvg (secure sums, server noise N(0, (zC)^2))', '',
             'Epsilon inf: the secure mode without DP (clip 30, weights = example counts). '
             'C: the delta rounds\' clip chosen from %s on seed 0 (on the held-out rows, so '
             'slightly optimistic): for N = 10 per epsilon; for N = 100 from %s at epsilon 8 '
             'and kept for 4 and 1. Epsilon 8: median of %d noise draws; 4 and 1: one draw '
             '(time). Round 1 (class statistics, norm <= sqrt 2) uses min(C, sqrt 2). z for the '
             'epsilon over %d releases.' % (', '.join('%g' % c for c in CLIPS),
                                           ', '.join('%g' % c for c in CLIPS_100), len(SEEDS),
                                           ROUNDS), '',
             '| set | N (can train) | z at eps 1 / 4 / 8 | eps 1 | eps 4 | eps 8 | inf '
             '| cost of eps 8 (points) | goal |', '|---|---|---|---:|---:|---:|---:|---:|---|']
    for name, r in results['runs'].items():
        for n in ('100', '10'):
            e = r['client'][n]
            best = e['best']
            cost = e['inf'][-1] - best['8']['median']
            goal = ('met' if cost <= GOAL_CLIENT + 1e-12 else 'MISSED') if n == '100' \
                else '(no goal)'
            lines.append('| %s | %s (%d) | %s | %s | %s | %s | %s | %s | %s |' % (
                name, n, e['can_train'],
                ' / '.join('%.2f' % best[k]['z'] for k in ('1', '4', '8')),
                *['%s (C %g)' % (_pct(best[k]['median']), best[k]['clip'])
                  for k in ('1', '4', '8')], _pct(e['inf'][-1]), _pts(-cost), goal))
    lines += ['', 'Clip sweep, seed 0 (round-10 accuracy %, C = ' + ' / '.join(
        '%g' % c for c in CLIPS) + '); noise std on the mean, per coordinate, is zC/N:', '']
    for name, r in results['runs'].items():
        for n in ('100', '10'):
            e = r['client'][n]
            lines.append('- %s, N = %s: %s' % (name, n, '; '.join(
                'eps %s (z %.2f): %s' % (k, v['z'], ' / '.join(
                    _pct(v['final']['%g' % c]) if '%g' % c in v['final'] else '-'
                    for c in CLIPS))
                for k, v in e['sweep'].items())))
    lines += ['', 'All draws at the chosen C (round 10): ' + '; '.join(
        '%s N=%s eps %s: %s' % (name, n, k, ' '.join(_pct(a) for a in v['finals']))
        for name, r in results['runs'].items() for n in ('100', '10')
        for k, v in r['client'][n]['best'].items()), '',
        '## Example-level DP-SGD in each browser, N = 10 browsers x 20-60 examples', '',
        'Every browser: clip %g per example, options %s (full batches: q = 1, so one z for '
        'every browser), z calibrated for its steps over all %d rounds; plain FedAvg of the '
        'updates. The head starts at zeros (no class-statistics round). Epsilon inf: the '
        'product without DP; "z = 0" the same DP-SGD protocol without noise (one run). '
        'With the page\'s options (%s) instead, epsilon 8, the sentence set reached 37 %% '
        '(exploration run, see the module notes).' % (DP_SGD_CLIP, FED_DP_SGD, ROUNDS,
                                                     PAGE_DP_SGD), '',
        '| set | N (can train) | z range at eps 1 / 4 / 8 | eps 1 | eps 4 | eps 8 | z = 0 '
        '| inf (product) | cost of eps 8 (points) | goal |',
        '|---|---|---|---:|---:|---:|---:|---:|---:|---|']
    for name, r in results['runs'].items():
        e = r['example']['10']
        b = e['by_epsilon']
        cost = e['inf'][-1] - b['8']['median']
        lines.append('| %s | 10 (%d) | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            name, e['can_train'], ' / '.join('%.2f-%.2f' % (b[k]['z_min'], b[k]['z_max'])
                                             for k in ('1', '4', '8')),
            _pct(b['1']['median']), _pct(b['4']['median']), _pct(b['8']['median']),
            _pct(b['inf']['median']), _pct(e['inf'][-1]), _pts(-cost),
            'met' if cost <= GOAL_EXAMPLE + 1e-12 else 'MISSED'))
    lines += ['', 'Draws (round 10): ' + '; '.join(
        '%s eps %s: %s' % (name, k, ' '.join(_pct(a) for a in v['finals']))
        for name, r in results['runs'].items()
        for k, v in r['example']['10']['by_epsilon'].items()), '',
        '## One browser alone, %d examples per label, DP-SGD vs no DP' % SHOTS, '',
        'train_head from scratch, 5 epochs; no DP: the page\'s defaults (prototype init, class '
        'weights); DP: init zeros, no class weights, clip %g, z for the epsilon over its '
        'steps. %d draws of the examples (and noise), median.' % (DP_SGD_CLIP, len(SEEDS)), '',
        '| set | examples | no DP | eps 8 (z) | eps 4 | eps 1 | cost of eps 8 (points) |',
        '|---|---:|---:|---:|---:|---:|---:|']
    for name, r in results['runs'].items():
        b = r['single']['by_epsilon']
        lines.append('| %s | %d | %s | %s (%.2f) | %s | %s | %s |' % (
            name, r['single']['examples'], _pct(b['none']['median']), _pct(b['8']['median']),
            b['8']['z'], _pct(b['4']['median']), _pct(b['1']['median']),
            _pts(b['8']['median'] - b['none']['median'])))
    lines += ['', '## Recommendation', '', results['recommendation'], '']
    return '\n'.join(lines)


def recommend(runs):
    """Sentences from the numbers: which mode for which cohort size."""
    def cost(kind, n, name):
        e = runs[name][kind][n]
        best = e['best']['8']['median'] if kind == 'client' else e['by_epsilon']['8']['median']
        return e['inf'][-1] - best
    c100 = max(cost('client', '100', s) for s in runs)
    c10 = max(cost('client', '10', s) for s in runs)
    e10 = max(cost('example', '10', s) for s in runs)
    alone = max(runs[s]['single']['by_epsilon']['none']['median']
                - runs[s]['single']['by_epsilon']['8']['median'] for s in runs)
    noise = calibrated(8.0, 1.0, ROUNDS) * math.sqrt(3 * 384 + 3) / 100
    text = ('At epsilon 8 (delta %g, %d rounds), worst of the two sets: client-level DP costs '
            '%.1f points with 100 members (goal %.0f: %s) and %.1f with 10; example-level '
            'DP-SGD costs %.1f points with 10 browsers (goal %.0f: %s); one browser alone %.1f. '
            % (DELTA, ROUNDS, 100 * c100, 100 * GOAL_CLIENT,
               'met' if c100 <= GOAL_CLIENT else 'missed', 100 * c10, 100 * e10,
               100 * GOAL_EXAMPLE, 'met' if e10 <= GOAL_EXAMPLE else 'missed', 100 * alone))
    small = 'example-level DP-SGD in the page' if e10 <= c10 else 'client-level DP'
    if c100 <= GOAL_CLIENT:
        text += ('Recommended: client-level DP (secure mode + server noise) from about 100 '
                 'members; %s below that.' % small)
    else:
        text += ('Recommended: for cohorts up to 100, %s (it costs less here); client-level DP '
                 'only for cohorts well above 100 members: for a 1,155-parameter head the '
                 'noise on the mean has norm z C sqrt(1155) / N = %.2f C per round at N = 100, '
                 'as large as the clipped updates themselves, and round 1\'s class statistics '
                 '(coordinates about share / sqrt(384)) drown first. Without a target epsilon '
                 'the page should keep offering no DP, with DP as an explicit choice.'
                 % (small, noise))
    return text


def run():
    logging.getLogger('absl').setLevel(logging.ERROR)   # dp-accounting's RDP order warnings
    load = os.getloadavg()
    start = time.perf_counter()
    log = progress_log()
    runs = {name: set_runs(name, log) for name in SETS}
    results = {
        'settings': {
            'description': 'sets %s, Dirichlet %.1f, %d rounds, N = 100 (10-30 examples) and '
                           '10 (20-60), page options %s, epsilons %s, delta %g, client-level '
                           'clips %s, DP-SGD clip %g (federated: %s), seeds %s' % (
                               ', '.join(SETS), fls.ALPHA, ROUNDS, DEFAULTS,
                               ', '.join(_eps_key(e) for e in EPSILONS), DELTA,
                               ', '.join('%g' % c for c in CLIPS), DP_SGD_CLIP, FED_DP_SGD,
                               SEEDS),
            'epsilons': [_eps_key(e) for e in EPSILONS], 'delta': DELTA, 'rounds': ROUNDS,
            'clips': CLIPS, 'dp_sgd_clip': DP_SGD_CLIP, 'seeds': SEEDS, 'shots': SHOTS},
        'runs': runs, 'seconds': time.perf_counter() - start,
        'load_average': '%.1f / %.1f' % (load[0], os.getloadavg()[0]),
        'versions': {'python': platform.python_version(), 'numpy': np.__version__}}
    save_results('dp_rounds', results, '')      # the numbers first, whatever follows
    results['recommendation'] = recommend(runs)
    text = markdown(results)
    save_results('dp_rounds', results, text)
    print(text)
    return results


def rewrite_markdown():
    """Write the Markdown again from the saved JSON (after a change to ``markdown``)."""
    from bench import load_results
    results = load_results('dp_rounds')
    results['recommendation'] = recommend(results['runs'])
    save_results('dp_rounds', results, markdown(results))


if __name__ == '__main__':
    run()
