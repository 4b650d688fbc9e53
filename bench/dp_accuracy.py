"""Accuracy vs differential privacy of the product's mechanism: ``python -m bench dp_accuracy``.

Question (issue 14): what does an epsilon cost in held-out accuracy with client-level DP
(goal: N = 100 members, epsilon 8 costs at most 3 points vs no DP) and with example-level DP
(goal: N = 10 browsers x 20-60 examples, epsilon 8 costs at most 5 points), for one browser
alone, and which mode should a federation of which size use?

The mechanism (``tinybert_core.private_prototype``, ``fl.client_privacy``): one release of
class sums, the head made of their noisy directions. Run with the product's code:

- **client level**: every member's ``member_sums`` (norm 1), encoded for secure aggregation
  with weight 1 at the round's fixed-point scale (``secagg.encode_input``: stochastic
  rounding), summed mod 2^32 and decoded (the masks cancel exactly, so none are drawn), plus
  ``client_privacy.noised`` N(0, z^2) (seeded from the run here, the CSPRNG in production);
  head: ``fl.first_round.direction_head``.
- **example level, distributed noise** (the default): every browser's ``example_sums``
  without noise, then ``with_member_noise`` (N(0, z^2 / t), t the threshold of the cohort,
  from ``os.urandom``, clipped to ``EXAMPLE_SUMS_BOUND``), as ``services.secure_round`` does,
  the same secure sum, no server noise. All members survive, so the sum's noise is
  z sqrt(n / t), a little more than z.
- **example level, local noise**: ``example_sums`` with N(0, z^2) in every browser.
- **one browser alone**: ``example_sums`` of its own examples (20 per label) and
  ``private_prototype.direction_head``; no DP: the page's trainer with its defaults.

z: ``fl.privacy.noise_for_epsilon`` for one release at delta 1e-5 (dp-accounting, RDP), the
value the server calibrates. Data, split and members as ``bench/fl_simulation.py`` (TREC-6
and the sentence set, 1,000 held-out rows, Dirichlet 0.5, 100 members of 10-30 examples or 10
of 20-60; members with one label left out, as there). Epsilon inf: the product's secure
federation without DP after 10 rounds (``bench/secure_aggregation.run_secure_replica``:
class statistics, then trained deltas). "z = 0": the mechanism without noise. DRAWS noise
draws at each epsilon (the single browser: draws of its examples too), median.

Writes ``bench/results/dp_accuracy.{json,md}`` and ``dp_accuracy.png``.
"""
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
from fl import client_privacy, privacy
from fl.first_round import direction_head
from tinybert_core import secagg
from tinybert_core.delta import clip_delta
from tinybert_core.dp_random import SystemRandomBytes
from tinybert_core.head import LinearHead
from tinybert_core.private_prototype import direction_head as page_direction_head
from tinybert_core.private_prototype import example_sums, member_sums, with_member_noise
from tinybert_core.train import train_head

SETS = ['trec6', 'domain']
EPSILONS = [1.0, 2.0, 4.0, 8.0, 16.0]
DELTA = 1e-5
COHORTS = [100, 10]
MODES = ['client', 'example', 'example_local']
MODE_NAMES = {'client': 'client', 'example': 'example (distributed noise)',
              'example_local': 'example (local noise)'}
DRAWS = 7
SHOTS = 20
GOAL_CLIENT = 0.03      # N = 100, epsilon 8
GOAL_EXAMPLE = 0.05     # N = 10, epsilon 8


def z_for(eps):
    return 0.0 if math.isinf(eps) else privacy.noise_for_epsilon(eps, DELTA, 1.0, 1)


def secure_sum(inputs, labels, dim, bound, rng):
    """The decoded sum of ``inputs`` (dicts with weights, bias) as secure aggregation computes
    it: each clipped to ``bound``, weight 1, fixed point with stochastic rounding."""
    scale = secagg.fixed_point_scale(len(inputs), 1, bound)
    total = np.zeros(secagg.input_length(len(labels), dim), dtype=np.uint32)
    for item in inputs:
        clipped = clip_delta({'weights': list(item['weights']), 'bias': list(item['bias'])},
                             bound)
        words = secagg.encode_input(clipped['weights'], clipped['bias'], 1, scale, bound, 1,
                                    rng.bytes(4 * (len(labels) * dim + len(labels))))
        total += np.array(words, dtype=np.uint32)
    sums = secagg.decode_sum(total.tolist(), scale, len(labels), dim)
    return np.concatenate([sums['weights'], sums['bias']])


def private_head(mode, labels, members, X, y, z, seed):
    """The head a private federation publishes after its first round."""
    dim = X.shape[1]
    rng = np.random.default_rng(seed)
    inputs = []
    for rows in members:
        xs = X[rows].astype(np.float64).tolist()
        ys = [int(v) for v in y[rows]]
        if mode == 'client':
            inputs.append(member_sums(labels, dim, xs, ys))
        elif mode == 'example':
            sums = dict(example_sums(labels, dim, xs, ys, 0.0, None), weight=1)
            inputs.append(with_member_noise(sums, z, len(members),
                                            client_privacy.EXAMPLE_SUMS_BOUND))
        else:
            inputs.append(example_sums(labels, dim, xs, ys, z, SystemRandomBytes()))
    bound = client_privacy.MEMBER_SUMS_BOUND if mode == 'client' \
        else client_privacy.EXAMPLE_SUMS_BOUND
    summed = secure_sum(inputs, labels, dim, bound, rng)
    if mode == 'client' and z > 0:
        summed = client_privacy.noised(summed, z, bound, random_bits=seed)
    flat = direction_head(summed, len(labels), dim).astype(np.float32)
    rows = len(labels) * dim
    return flat[:rows], flat[rows:]


def single_browser(X, y, labels, eps, seed):
    train_rows, test_rows = protocol.split(y, len(labels), SHOTS, seed)
    xs = X[train_rows].astype(np.float64).tolist()
    ys = [int(v) for v in y[train_rows]]
    if eps is None:
        head = LinearHead(labels, X.shape[1])
        train_head(head, xs, ys, {})
        weights, bias = head.weights, head.bias
    else:
        sums = example_sums(labels, X.shape[1], xs, ys, z_for(eps), SystemRandomBytes())
        head = page_direction_head(sums['weights'], len(labels), X.shape[1])
        weights, bias = head['weights'], head['bias']
    return fls.accuracy(weights, bias, X[test_rows], y[test_rows])


def _key(eps):
    return 'inf' if math.isinf(eps) else '%g' % eps


def _median(values):
    return float(statistics.median(values))


def set_runs(name, log):
    X, y, labels = protocol.load_set(name)
    fls._DATA['X'], fls._DATA['y'] = X, y
    train_rows, test_rows = protocol.split(y, len(labels), None, 0)
    Xt, yt = X[test_rows], y[test_rows]
    out = {'cohorts': {}, 'single': {}}
    context = multiprocessing.get_context('fork')
    for n in COHORTS:
        rng = np.random.default_rng(fls.SEED + n)   # fl_simulation's partition draw
        clients, _ = fls.partition(y, train_rows, len(labels), n, fls.SCENARIOS[n], fls.ALPHA,
                                   rng)
        able = [np.asarray(rows) for rows in clients if fls.can_train(labels, rows)]
        start = time.perf_counter()
        with ProcessPoolExecutor(fls.WORKERS, mp_context=context) as pool:
            options, _ = fls.product_settings()
            plain, _ = sa.run_secure_replica(labels, able, options, pool, Xt, yt, fls.ROUNDS,
                                             sa.SEED + n)
        entry = {'members': n, 'can_train': len(able), 'no_dp': plain[-1]['accuracy'],
                 'no_dp_round_1': plain[1]['accuracy'], 'modes': {}}
        log('%s N=%d no DP (10 rounds): %.3f' % (name, n, entry['no_dp']))
        for mode in MODES:
            by_eps = {}
            for eps in [math.inf] + EPSILONS:
                z = z_for(eps)
                draws = [fls.accuracy(*private_head(mode, labels, able, X, y, z, seed), Xt, yt)
                         for seed in range(1 if z == 0 else DRAWS)]
                by_eps['z0' if z == 0 else _key(eps)] = {
                    'z': z, 'epsilon': None if z == 0 else
                    privacy.epsilon_after_rounds([(z, 1.0)], DELTA),
                    'draws': draws, 'median': _median(draws)}
                log('%s N=%d %s eps %s z %.3f: %.3f' % (name, n, mode, _key(eps), z,
                                                      _median(draws)))
            entry['modes'][mode] = by_eps
        entry['seconds'] = time.perf_counter() - start
        out['cohorts'][str(n)] = entry
    single = {}
    for eps in [None] + EPSILONS:
        draws = [single_browser(X, y, labels, eps, seed) for seed in range(DRAWS)]
        single['none' if eps is None else _key(eps)] = {'draws': draws, 'median': _median(draws)}
        log('%s one browser eps %s: %.3f' % (name, eps, _median(draws)))
    out['single'] = {'examples': SHOTS * len(labels), 'by_epsilon': single}
    return out


# --- report --------------------------------------------------------------------------------

def _pct(v):
    return '%.1f' % (100 * v)


def _pts(v):
    return '%+.1f' % (round(100 * v, 1) + 0.0)


def cost(runs, name, n, mode, eps='8'):
    e = runs[name]['cohorts'][str(n)]
    return e['no_dp'] - e['modes'][mode][eps]['median']


def recommend(runs):
    """Which mode for which cohort size, from the worst set's cost at epsilon 8."""
    worst = {(n, mode): max(cost(runs, s, n, mode) for s in runs)
             for n in COHORTS for mode in MODES}
    lines = []
    for n in COHORTS:
        better = min(MODES, key=lambda m: worst[(n, m)])
        lines.append('N = %d: ' % n + ', '.join(
            '%s costs %.1f points' % (MODE_NAMES[m], 100 * worst[(n, m)]) for m in MODES)
            + ' (worst set) -> %s.' % MODE_NAMES[better])
    at_100 = ', '.join('%s %.1f' % (s, 100 * cost(runs, s, 100, 'client')) for s in runs)
    lines.append('The product (PRIVACY=auto, fl.client_privacy.CLIENT_LEVEL_FROM = %d) uses the '
                 'example level with distributed noise below %d members a round, and the client '
                 'level from there: its guarantee covers a member\'s whole data set rather than '
                 'one example, and at 100 members it costs %s points (by set), its noise on the '
                 'sum falling as the cohort grows.'
                 % (client_privacy.CLIENT_LEVEL_FROM, client_privacy.CLIENT_LEVEL_FROM, at_100))
    return lines


def markdown(results):
    runs = results['runs']
    s = results['settings']
    lines = ['# Accuracy vs differential privacy: the private prototype head (issue 14)', '',
             'Settings: %s. Run time %.0f s; load average before/after %s (2 cores shared).'
             % (s['description'], results['seconds'], results['load_average']), '',
             'Held-out accuracy (%%, 1,000 rows); one release of noisy class sums, delta 1e-05, '
             'epsilon from dp-accounting (RDP); median of %d noise draws. "no DP": the '
             'product\'s secure federation without DP after 10 rounds.' % DRAWS, '']
    for n, goal, goal_mode in ((100, GOAL_CLIENT, 'client'), (10, GOAL_EXAMPLE, 'example')):
        lines += ['## N = %d members' % n, '',
                  '| set | mode | z = 0 | ' + ' | '.join('eps %g' % e for e in EPSILONS)
                  + ' | no DP | cost of eps 8 (points) | goal |',
                  '|---|---|---:|' + '---:|' * len(EPSILONS) + '---:|---:|---|']
        for name in runs:
            e = runs[name]['cohorts'][str(n)]
            for mode in MODES:
                m = e['modes'][mode]
                c = cost(runs, name, n, mode)
                verdict = ('met' if c <= goal + 1e-12 else 'MISSED (%.1f)' % (100 * goal)) \
                    if mode.startswith(goal_mode) else ''
                lines.append('| %s | %s | %s | %s | %s | %s | %s |' % (
                    name, MODE_NAMES[mode], _pct(m['z0']['median']),
                    ' | '.join(_pct(m[_key(eps)]['median']) for eps in EPSILONS),
                    _pct(e['no_dp']), _pts(-c), verdict))
        lines.append('')
    z_line = ', '.join('eps %g: z %.3f' % (eps, z_for(eps)) for eps in EPSILONS)
    lines += ['Noise multipliers (one release): ' + z_line + '.', '',
              '## One browser alone, %d examples per label' % SHOTS, '',
              'Example-level private head of its own examples vs the page\'s trainer without '
              'DP; %d draws of the examples (and noise), median.' % DRAWS, '',
              '| set | examples | no DP | ' + ' | '.join('eps %g' % e for e in EPSILONS)
              + ' | cost of eps 8 (points) |', '|---|---:|---:|' + '---:|' * len(EPSILONS)
              + '---:|']
    for name in runs:
        b = runs[name]['single']['by_epsilon']
        lines.append('| %s | %d | %s | %s | %s |' % (
            name, runs[name]['single']['examples'], _pct(b['none']['median']),
            ' | '.join(_pct(b[_key(eps)]['median']) for eps in EPSILONS),
            _pts(b['8']['median'] - b['none']['median'])))
    lines += ['', '## Recommendation (epsilon 8)', ''] + ['- ' + t for t in
                                                          results['recommendation']]
    lines += ['', 'The mechanisms first built (DP-FedAvg over 10 rounds, DP-SGD in each '
              'browser) cost 13-52 points at epsilon 8: `dp_rounds.md`.', '',
              '![accuracy vs epsilon](dp_accuracy.png)', '']
    return '\n'.join(lines)


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    runs = results['runs']
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 3.6), sharey=False)
    for ax, name in zip(np.atleast_1d(axes), runs):
        for n in COHORTS:
            e = runs[name]['cohorts'][str(n)]
            for mode, style in (('client', '-'), ('example', '--'), ('example_local', '-.')):
                ax.plot(EPSILONS, [100 * e['modes'][mode][_key(x)]['median'] for x in EPSILONS],
                        style, marker='o', label='%s, N=%d' % (mode, n))
            ax.axhline(100 * e['no_dp'], color='grey', lw=0.6)
        b = runs[name]['single']['by_epsilon']
        ax.plot(EPSILONS, [100 * b[_key(x)]['median'] for x in EPSILONS], ':', marker='s',
                label='one browser')
        ax.set_xscale('log', base=2)
        ax.set_xlabel('epsilon (delta 1e-5)')
        ax.set_ylabel('held-out accuracy %')
        ax.set_title(name + ' (grey: no DP)')
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run():
    logging.getLogger('absl').setLevel(logging.ERROR)
    load = os.getloadavg()
    start = time.perf_counter()
    log = progress_log()
    runs = {name: set_runs(name, log) for name in SETS}
    results = {
        'settings': {
            'description': 'sets %s, Dirichlet %.1f, N = 100 (10-30 examples) and 10 (20-60), '
                           'epsilons %s, delta %g, %d draws, one browser %d examples per label'
                           % (', '.join(SETS), fls.ALPHA, ', '.join('%g' % e for e in EPSILONS),
                              DELTA, DRAWS, SHOTS),
            'epsilons': EPSILONS, 'delta': DELTA, 'draws': DRAWS, 'shots': SHOTS,
            'member_bound': client_privacy.MEMBER_SUMS_BOUND,
            'example_bound': client_privacy.EXAMPLE_SUMS_BOUND},
        'runs': runs, 'seconds': time.perf_counter() - start,
        'load_average': '%.1f / %.1f' % (load[0], os.getloadavg()[0]),
        'versions': {'python': platform.python_version(), 'numpy': np.__version__}}
    results['recommendation'] = recommend(runs)
    save_results('dp_accuracy', results, '')      # the numbers first, whatever follows
    text = markdown(results)
    save_results('dp_accuracy', results, text)
    plot(results, os.path.join(os.path.dirname(__file__), 'results', 'dp_accuracy.png'))
    print(text)
    return results


def rewrite_markdown():
    """Write the Markdown and the plot again from the saved JSON."""
    from bench import load_results
    results = load_results('dp_accuracy')
    results['recommendation'] = recommend(results['runs'])
    save_results('dp_accuracy', results, markdown(results))
    plot(results, os.path.join(os.path.dirname(__file__), 'results', 'dp_accuracy.png'))


if __name__ == '__main__':
    run()
