"""Federated simulation: ``python -m bench fl_simulation``; then, optionally,
``python -m bench.fl_simulation --explore [variant ...]`` adds the client and server settings
tried (VARIANTS) to the same results.

Question: with clients whose data is non-IID, does the global head reach the accuracy of
centralised training on the union of their examples (within 2 points) in at most 10 rounds,
and what do int8 deltas cost in bytes and in accuracy?

Protocol:
- Sets SMS spam, TREC-6, sentence source (amazon/imdb/yelp) from ``bench/data.py``, embedded
  by the product's INT8 encoder (``bench/embed.py`` cache). 1,000 held-out rows per set
  (``protocol.split``, draw 0); clients draw from the other rows.
- Clients: 10 clients with 20-60 examples each, or 100 with 10-30 (uniform). Each client's
  label mix is Dirichlet(0.5, ..., 0.5) over the labels; its examples are drawn without
  replacement from per-label pools, and a pool that runs out is reshuffled and reused (with
  100 clients: SMS spam, TREC-6 ABBR (86 rows in all) and one sentence source, whose texts
  then reach several clients; the results give the union's label counts).
  A client whose examples have one label cannot train (the page refuses: "Add examples of at
  least two labels"), so it takes part in no round; MIN_UPDATES is the number of clients that
  can. (The page would let it send its class statistics in round 1; each round here keeps the
  same clients instead.)
- Round 1 (global head version 0): every client sends its class statistics
  (``tinybert_core.fl_local``) and the server builds the class-prototype head of their union
  (``fl.first_round``); later rounds: each client trains the global head on its examples and
  sends the delta, which the server averages (FedAvg) into the head.
- Federated, int8 (the product): the real server (``python -m fl``, SQLite in a temporary
  folder, ROUND_SECONDS 1e6) and ``SimClient`` (``bench/fl_client_sim.py``), the page's
  protocol and core modules under CPython, over loopback HTTP; every client that can train
  takes part in every round; after each round the global head is fetched and scored.
  Each round, the head the server serves is checked against an in-process replica of its
  aggregation (``fl.aggregators`` on the decoded payloads, float32 head).
- Federated, exact floats: the same clients and training, the clipped float64 delta given to
  that replica without quantisation (the server only takes int8, so this arm runs in-process).
- Centralised: ``tinybert_core.train.train_head`` with the same options on the union of every
  client's examples (and, for reference, of the clients that can train).
- Bytes: each int8 update vs the same clipped delta as float32 JSON.

Writes ``bench/results/fl_simulation.{json,md,png}``.
"""
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from bench import RESULTS, load_results, protocol, save_results
from bench.fl_client_sim import ServerProcess, SimClient, clipped_delta, train_local
from fl.aggregators import build_aggregator
from fl.config import DEFAULT_FEDERATION
from fl.config import DEFAULTS as SERVER_DEFAULTS
from fl.first_round import prototype_head
from tinybert_core.codec import Head, Update, decode_update, encode_update
from tinybert_core.head import LinearHead
from tinybert_core.train import DEFAULTS, check_examples, train_head

SETS = ['sms_spam', 'trec6', 'domain']
TITLES = {'sms_spam': 'SMS spam (2 labels)', 'trec6': 'TREC-6 (6 labels)',
          'domain': 'sentence source (3 labels)'}
SCENARIOS = {10: (20, 60), 100: (10, 30)}     # clients -> (fewest, most) examples a client
ALPHA = 0.5
ROUNDS = 10
SEED = 0
GOAL_GAP = 0.02
GOAL_QUANT = 0.005
WORKERS = 2

_DATA = {}     # filled before the worker pool forks: X, y of the current set


def partition(y, pool_rows, n_labels, clients, sizes, alpha, rng):
    """Row indices of each client: Dirichlet(alpha) label mix, size uniform in ``sizes``.

    Returns (list of int arrays, number of rows handed out again after a pool ran out).
    """
    pools = [list(rng.permutation(pool_rows[y[pool_rows] == k])) for k in range(n_labels)]
    fresh = [list(p) for p in pools]
    reused = 0
    out = []
    for _ in range(clients):
        size = int(rng.integers(sizes[0], sizes[1] + 1))
        counts = rng.multinomial(size, rng.dirichlet(alpha * np.ones(n_labels)))
        rows = []
        for k in range(n_labels):
            for _ in range(counts[k]):
                if not fresh[k]:
                    fresh[k] = list(rng.permutation(pools[k]))
                    reused += 1
                rows.append(fresh[k].pop())
        out.append(np.array(rows, dtype=np.int64))
    return out, reused


def float32_json_size(delta, fields):
    """Bytes of an update as JSON: ``fields`` (client id, round ...) and every value of
    ``delta`` as the shortest text that reads back as the same float32."""
    def values(v):
        return '[' + ','.join(str(x) for x in np.asarray(v, dtype=np.float32)) + ']'
    text = json.dumps(fields)[:-1] + ', "weights": ' + values(delta['weights']) \
        + ', "bias": ' + values(delta['bias']) + '}'
    return len(text.encode('utf-8'))


def _lists(rows):
    X, y = _DATA['X'], _DATA['y']
    return [list(map(float, X[i])) for i in rows], [int(y[i]) for i in rows]


def can_train(labels, rows):
    """Whether the page would train on these examples (tinybert_core.train.check_examples)."""
    xs, ys = _lists(rows)
    try:
        check_examples(LinearHead(labels, len(xs[0])), xs, ys)
    except ValueError:
        return False
    return True


def _http_task(task):
    """One client's send_delta against the real server (runs in a worker process)."""
    port, federation, identity, labels, rows, options = task
    xs, ys = _lists(rows)
    client = SimClient(port, federation, identity)
    try:
        sent = client.send_delta(labels, xs, ys, options)
    finally:
        client.close()
    delta = sent.pop('delta')
    sent['json_bytes'] = float32_json_size(delta, {
        'client_id': identity['client_id'], 'round_id': sent['round'],
        'base_version': sent['base_version'], 'num_examples': sent['examples'],
        'rows': len(labels), 'cols': len(delta['weights']) // len(labels)})
    return sent


def _replica_task(task):
    """One client's clipped delta, computed exactly as send_delta computes it (worker process)."""
    labels, rows, head, options, bound, quantise, client_id = task
    xs, ys = _lists(rows)
    local = train_local(labels, head.cols, xs, ys, head, options)
    clipped, norm = clipped_delta(local, head, bound)
    if quantise:
        data = encode_update(Update(client_id, head.version + 1, head.version, len(xs),
                                    head.rows, head.cols, clipped['weights'], clipped['bias']),
                             bound)
        decoded = decode_update(data)
        flat = np.concatenate([decoded.weights, decoded.bias])
    else:
        flat = np.concatenate([clipped['weights'], clipped['bias']])
    return flat, len(xs), norm


def _centralised_task(task):
    labels, rows, options = task
    xs, ys = _lists(rows)
    head = LinearHead(labels, _DATA['X'].shape[1])
    opts = dict(options)
    opts['init'] = 'prototype'
    train_head(head, xs, ys, opts)
    return np.asarray(head.weights), np.asarray(head.bias)


def accuracy(weights, bias, Xt, yt):
    W = np.asarray(weights, dtype=np.float64).reshape(len(bias), -1)
    return float(((Xt @ W.T + np.asarray(bias, dtype=np.float64)).argmax(axis=1) == yt).mean())


def aggregate(head, deltas, counts, server, velocity=None):
    """The server's round close in-process (fl.strategies.PrototypeThenDeltas.next_head): a
    float32 Head, version + 1.

    From version 0 the deltas are class statistics and the head is fl.first_round's
    prototype head. Later the aggregated step is added to the head; the bench-only server keys
    ``SERVER_LR`` (eta) and ``SERVER_MOMENTUM`` (beta) emulate a server optimiser that the
    product does not have: ``velocity = beta * velocity + step``, head += eta * velocity
    (``velocity``: the previous one, or None; it is updated in place).
    """
    rule = build_aggregator(server['AGGREGATOR'], clip_bound=server['CLIP_BOUND'])
    step = rule(np.stack(deltas), np.asarray(counts, dtype=np.float64))
    if head.version == 0:
        new = prototype_head(step, head.rows, head.cols).astype(np.float32)
    else:
        if velocity is not None:
            velocity *= server.get('SERVER_MOMENTUM', 0.0)
            velocity += step
            step = velocity
        base = np.concatenate([head.weights, head.bias]).astype(np.float64)
        new = (base + server.get('SERVER_LR', 1.0) * step).astype(np.float32)
    split = head.rows * head.cols
    return Head(head.version + 1, head.rows, head.cols, new[:split].astype(np.float64).tolist(),
                new[split:].astype(np.float64).tolist())


def run_replica(labels, clients, options, server, pool, Xt, yt, quantise, rounds):
    """Federated rounds with the in-process replica of the server. Returns per-round entries."""
    head = Head(0, len(labels), Xt.shape[1], [0.0] * (len(labels) * Xt.shape[1]),
                [0.0] * len(labels))
    history = [{'round': 0, 'accuracy': accuracy(head.weights, head.bias, Xt, yt)}]
    velocity = np.zeros(len(labels) * (Xt.shape[1] + 1))
    for r in range(1, rounds + 1):
        tasks = [(labels, rows, head, options, server['CLIP_BOUND'], quantise, j + 1)
                 for j, rows in enumerate(clients)]
        results = list(pool.map(_replica_task, tasks))
        head = aggregate(head, [d for d, _, _ in results], [n for _, n, _ in results], server,
                         velocity)
        norms = [n for _, _, n in results]
        history.append({'round': r, 'accuracy': accuracy(head.weights, head.bias, Xt, yt),
                        'clipped': float(np.mean([n > server['CLIP_BOUND'] for n in norms])),
                        'norm_median': float(np.median(norms))})
    return history


def run_http(name, labels, clients, options, server, pool, Xt, yt, rounds, folder):
    """Federated rounds against the real server. Returns (per-round entries, update sizes)."""
    federation = {'name': name, 'labels': labels, 'dim': int(Xt.shape[1]),
                  'encoder': DEFAULT_FEDERATION['encoder'],
                  'hidden_size': DEFAULT_FEDERATION['hidden_size']}
    env = {'DATABASE_PATH': os.path.join(folder, name + '.sqlite3'),
           'MIN_UPDATES': len(clients), 'ROUND_SECONDS': 1e6, 'FEDERATION_MODE': 'plain',
           'AGGREGATOR': server['AGGREGATOR'], 'CLIP_BOUND': server['CLIP_BOUND'],
           'FEDERATIONS': json.dumps([federation])}
    proc = ServerProcess(env, os.path.join(folder, name + '.log')).start()
    sizes = []
    try:
        identities = [SimClient(proc.port, name).register() for _ in clients]
        observer = SimClient(proc.port, name)
        head = observer.apply_aggregate()
        history = [{'round': 0, 'accuracy': accuracy(head.weights, head.bias, Xt, yt)}]
        for r in range(1, rounds + 1):
            tasks = [(proc.port, name, identities[j], labels, rows, options)
                     for j, rows in enumerate(clients)]
            sent = list(pool.map(_http_task, tasks))
            new = observer.apply_aggregate()
            replica = aggregate(head, [_flat(decode_update(s['payload'])) for s in sent],
                                [s['examples'] for s in sent], server)
            report = observer.http.json('GET', '/api/rounds/%d' % sent[0]['round'])
            head = new
            sizes += [(s['bytes'], s['json_bytes']) for s in sent]
            history.append({
                'round': r, 'accuracy': accuracy(head.weights, head.bias, Xt, yt),
                'head_version': head.version, 'round_status': report['status'],
                'accepted': report['accepted'], 'refused': report['refused'],
                'closed_by_last': sum(1 for s in sent if s['round_closed']),
                'replica_max_abs_diff': float(np.max(np.abs(
                    np.concatenate([replica.weights, replica.bias])
                    - np.concatenate([head.weights, head.bias])))),
                'clipped': float(np.mean([s['clipped'] for s in sent])),
                'norm_median': float(np.median([s['norm'] for s in sent]))})
        check = [LinearHead(labels, head.cols)]
        check[0].weights, check[0].bias = list(head.weights), list(head.bias)
        hits = sum(check[0].predict_index(list(map(float, Xt[i]))) == yt[i] for i in range(200))
        assert abs(hits / 200 - accuracy(head.weights, head.bias, Xt[:200], yt[:200])) < 1e-9
        observer.close()
    finally:
        proc.stop()
    return history, sizes


def _flat(update):
    return np.concatenate([np.asarray(update.weights), np.asarray(update.bias)])


def scenario(name, X, y, labels, n_clients, options, server, pool, folder, arms):
    """Run one set with one number of clients; return its results dict."""
    train_rows, test_rows = protocol.split(y, len(labels), None, 0)
    Xt, yt = X[test_rows], y[test_rows]
    rng = np.random.default_rng(SEED + n_clients)
    clients, reused = partition(y, train_rows, len(labels), n_clients, SCENARIOS[n_clients],
                                ALPHA, rng)
    able = [rows for rows in clients if can_train(labels, rows)]
    union = np.concatenate(clients)
    out = {'clients': n_clients, 'sizes': SCENARIOS[n_clients], 'can_train': len(able),
           'rows_reused': reused, 'union_rows': int(len(union)),
           'union_label_counts': np.bincount(y[union], minlength=len(labels)).tolist(),
           'client_sizes': [int(len(c)) for c in clients],
           'client_labels': [int(len(set(y[c].tolist()))) for c in clients]}
    start = time.perf_counter()
    if 'http' in arms:
        central = list(pool.map(_centralised_task, [(labels, union, options),
                                                    (labels, np.concatenate(able), options)]))
        out['centralised'] = accuracy(*central[0], Xt, yt)
        out['centralised_able_clients'] = accuracy(*central[1], Xt, yt)
        out['int8_http'], sizes = run_http('%s-%d' % (name, n_clients), labels, able, options,
                                           server, pool, Xt, yt, ROUNDS, folder)
        out['bytes'] = {'int8': int(np.mean([s[0] for s in sizes])),
                        'float32_json_mean': float(np.mean([s[1] for s in sizes])),
                        'ratio_mean': float(np.mean([s[0] / s[1] for s in sizes]))}
    if 'int8' in arms:
        out['int8'] = run_replica(labels, able, options, server, pool, Xt, yt, True, ROUNDS)
    if 'float' in arms:
        out['float'] = run_replica(labels, able, options, server, pool, Xt, yt, False, ROUNDS)
    out['seconds'] = time.perf_counter() - start
    return out


def run_all(sets, scenarios, options, server, arms, rounds_note=''):
    """Every set x number of clients; returns {set: {clients: results}}."""
    out = {}
    with tempfile.TemporaryDirectory(prefix='fl-sim-') as folder:
        for name in sets:
            X, y, labels = protocol.load_set(name)
            _DATA['X'], _DATA['y'] = X, y
            out[name] = {}
            context = multiprocessing.get_context('fork')
            with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
                for n in scenarios:
                    print('  %s, %d clients %s...' % (name, n, rounds_note), flush=True)
                    out[name][str(n)] = scenario(name, X, y, labels, n, options, server, pool,
                                                 folder, arms)
    return out


def _first_within(history, target):
    for entry in history[1:]:
        if entry['accuracy'] >= target - GOAL_GAP:
            return entry['round']
    return None


def summarise(results):
    """Goals per set and number of clients (accuracy gap, quantisation cost, bytes)."""
    rows = []
    for name, by_n in results.items():
        for n, r in by_n.items():
            fl = r['int8_http']
            acc = [e['accuracy'] for e in fl]
            diffs = [a['accuracy'] - b['accuracy'] for a, b in zip(fl[1:], r['float'][1:])]
            rows.append({
                'set': name, 'clients': int(n), 'can_train': r['can_train'],
                'centralised': r['centralised'], 'final': acc[-1], 'best': max(acc[1:]),
                'gap_final': acc[-1] - r['centralised'],
                'first_round_within_2': _first_within(fl, r['centralised']),
                'float_final': r['float'][-1]['accuracy'], 'quant_cost_final': -diffs[-1],
                'quant_cost_max_abs': max(abs(d) for d in diffs),
                'bytes_ratio': r['bytes']['ratio_mean'],
                'replica_max_abs_diff': max(e['replica_max_abs_diff'] for e in fl[1:]),
                'refused': sum(e['refused'] for e in fl[1:]),
                'all_aggregated': all(e['round_status'] == 'aggregated' for e in fl[1:])})
    return rows


def _pct(value):
    return '%.1f' % (100 * value)


def _points(value):
    """A signed difference in points, without a negative zero."""
    return '%+.1f' % (round(100 * value, 1) + 0.0)


def markdown(results):
    rows = summarise(results['runs'])
    s = results['settings']
    lines = ['# Federated simulation', '',
             'Settings: %s. Run time %.0f s; load average before/after %s.'
             % (s['description'], results['seconds'], results['load_average']), '',
             '## Accuracy of the global head vs centralised training (held-out 1,000 rows, %)',
             '', 'Goal: within %.0f points of centralised in at most %d rounds.'
             % (100 * GOAL_GAP, ROUNDS), '',
             '| set | clients | can train | centralised | FL round 1 | round 5 | round 10 '
             '| gap at 10 | first round within 2 | goal |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in rows:
        fl = results['runs'][r['set']][str(r['clients'])]['int8_http']
        lines.append('| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s |' % (
            r['set'], r['clients'], r['can_train'], _pct(r['centralised']),
            _pct(fl[1]['accuracy']), _pct(fl[5]['accuracy']), _pct(r['final']),
            _points(r['gap_final']), r['first_round_within_2'] or 'never',
            'met' if r['first_round_within_2'] else 'MISSED'))
    lines += ['', 'Per round (round 0 is the untrained head), int8 over HTTP / exact floats:', '']
    for name, by_n in results['runs'].items():
        for n, r in by_n.items():
            lines.append('- %s, %s clients: %s / %s; centralised on the clients that can '
                         'train %s; union of all clients %d rows, per label %s%s' % (
                             name, n, ' '.join(_pct(e['accuracy']) for e in r['int8_http']),
                             ' '.join(_pct(e['accuracy']) for e in r['float']),
                             _pct(r['centralised_able_clients']), r['union_rows'],
                             r['union_label_counts'],
                             ' (a label pool ran out and was reused %d times)'
                             % r['rows_reused'] if r['rows_reused'] else ''))
    lines += ['', '## Bytes per update', '',
              'Goal: the int8 update at most 0.3x the same delta as float32 JSON.', '',
              '| set | head | int8 update, bytes | float32 JSON, bytes (mean) | ratio | goal |',
              '|---|---|---:|---:|---:|---|']
    for name, by_n in results['runs'].items():
        b = by_n[str(max(int(n) for n in by_n))]['bytes']
        lines.append('| %s | %d x 384 | %d | %.0f | %.3f | %s |' % (
            name, len(results['labels'][name]), b['int8'], b['float32_json_mean'],
            b['ratio_mean'], 'met' if b['ratio_mean'] <= 0.3 else 'MISSED'))
    lines += ['', '## Accuracy cost of int8 deltas', '',
              'Goal: global accuracy with int8 deltas within %.1f point of exact float deltas.'
              % (100 * GOAL_QUANT), '',
              '| set | clients | int8, round 10 | float, round 10 | cost at 10 (points) '
              '| largest difference, rounds 1-10 | goal |', '|---|---:|---:|---:|---:|---:|---|']
    for r in rows:
        lines.append('| %s | %d | %s | %s | %s | %.1f | %s |' % (
            r['set'], r['clients'], _pct(r['final']), _pct(r['float_final']),
            _points(r['quant_cost_final']), 100 * r['quant_cost_max_abs'],
            'met' if abs(r['quant_cost_final']) <= GOAL_QUANT else 'MISSED'))
    lines += ['', '## Server checks', '',
              'Every round: status aggregated, refusals, and the served head vs the in-process '
              'replica of the aggregation (largest absolute difference).', '']
    for r in rows:
        lines.append('- %s, %d clients: all aggregated %s, refused %d, replica difference %.3g'
                     % (r['set'], r['clients'], r['all_aggregated'], r['refused'],
                        r['replica_max_abs_diff']))
    if results.get('variants'):
        lines += variants_markdown(results)
    lines += ['', '![accuracy per round](fl_simulation.png)', '']
    return '\n'.join(lines)


def variants_markdown(results):
    """Round-10 accuracy (gap to centralised) of each variant, set and number of clients."""
    variants = results['variants']
    keys = [(name, n) for name in results['runs'] for n in results['runs'][name]]
    lines = ['', '## Client and server settings tried', '',
             'Same clients and data; the in-process replica of the server (int8 deltas, '
             'checked equal to the real server above); round-10 accuracy %% (gap to '
             'centralised training with product settings), then the first round within 2 '
             'points. "Server" rows emulate a server optimiser the product does not have '
             '(``aggregate``: the averaged delta as a pseudo-gradient, velocity = momentum * '
             'velocity + step, head += learning rate * velocity; round 1 is unchanged). '
             'Run time %.0f s.' % variants['seconds'], '',
             '| variant | ' + ' | '.join('%s, %s clients' % k for k in keys) + ' |',
             '|---|' + '---:|' * len(keys)]

    def cell(history, name, n):
        central = results['runs'][name][n]['centralised']
        final = history[-1]['accuracy']
        return '%s (%s), %s' % (_pct(final), _points(final - central),
                                _first_within(history, central) or 'never')

    lines.append('| product settings (HTTP run above) | ' + ' | '.join(
        cell(results['runs'][name][n]['int8_http'], name, n) for name, n in keys) + ' |')
    for variant in variants['rows']:
        lines.append('| %s | %s |' % (variant['name'], ' | '.join(
            cell(variant['runs'][name][n], name, n) for name, n in keys)))
    return lines


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    runs = results['runs']
    fig, axes = plt.subplots(1, len(runs), figsize=(5 * len(runs), 4), squeeze=False)
    for ax, (name, by_n) in zip(axes[0], runs.items()):
        for (n, r), colour in zip(by_n.items(), ['tab:blue', 'tab:orange']):
            rounds = [e['round'] for e in r['int8_http']]
            ax.plot(rounds, [e['accuracy'] for e in r['int8_http']], '-o', color=colour,
                    ms=3, label='%s clients, int8 (HTTP)' % n)
            ax.plot(rounds, [e['accuracy'] for e in r['float']], '--', color=colour,
                    label='%s clients, exact floats' % n)
            ax.axhline(r['centralised'], color=colour, ls=':',
                       label='%s clients, centralised' % n)
        ax.set_title(TITLES[name])
        ax.set_xlabel('round')
        ax.set_ylabel('held-out accuracy')
        ax.set_ylim(0.0, 1.0)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def product_settings():
    """The client options the page sends and the server defaults it runs with."""
    options = {'epochs': DEFAULTS['epochs']}
    server = {'AGGREGATOR': SERVER_DEFAULTS['AGGREGATOR'],
              'CLIP_BOUND': SERVER_DEFAULTS['CLIP_BOUND']}
    return options, server


def _load_results():
    return load_results('fl_simulation')


def _save(results):
    save_results('fl_simulation', results, markdown(results))
    plot(results, os.path.join(RESULTS, 'fl_simulation.png'))


VARIANTS = [
    ('local learning_rate 0.05', {'learning_rate': 0.05}, {}),
    ('local epochs 10', {'epochs': 10}, {}),
    ('server learning rate 2', {}, {'SERVER_LR': 2.0}),
    ('server momentum 0.5', {}, {'SERVER_MOMENTUM': 0.5}),
    ('server momentum 0.9 + local learning_rate 0.05', {'learning_rate': 0.05},
     {'SERVER_MOMENTUM': 0.9}),
]


def explore(names=None):
    """Run VARIANTS (or those named) with the in-process replica (int8) and add them to the
    saved results, replacing earlier rows of the same name.

    ``python -m bench.fl_simulation --explore [name ...]``, after a default run (about
    three minutes a variant on two cores).
    """
    results = _load_results()
    if results is None or 'runs' not in results:
        raise RuntimeError('run `python -m bench fl_simulation` first')
    options, server = product_settings()
    start = time.perf_counter()
    kept = {row['name']: row for row in (results.get('variants') or {}).get('rows', [])}
    for name, client, rules in VARIANTS:
        if names and name not in names:
            continue
        print('variant: %s' % name, flush=True)
        runs = run_all(SETS, list(SCENARIOS), dict(options, **client), dict(server, **rules),
                       ['int8'])
        kept[name] = {'name': name, 'options': client, 'server': rules,
                      'runs': {s: {n: r['int8'] for n, r in by_n.items()}
                               for s, by_n in runs.items()}}
    seconds = time.perf_counter() - start
    if names:   # some rows were kept from the earlier run: count its time too
        seconds += (results.get('variants') or {}).get('seconds', 0)
    results['variants'] = {'rows': [kept[n] for n, _, _ in VARIANTS if n in kept],
                           'seconds': seconds}
    _save(results)
    return results


def run():
    """The default run: product settings, int8 over HTTP and exact floats in-process."""
    options, server = product_settings()
    load = os.getloadavg()
    start = time.perf_counter()
    runs = run_all(SETS, list(SCENARIOS), options, server, ['http', 'float'])
    labels = {name: protocol.load_set(name)[2] for name in SETS}
    results = {
        'settings': {
            'description': 'Dirichlet alpha %.1f label mix per client, sizes %s, %d rounds, '
                           'client options %s (other training options: '
                           'tinybert_core.train defaults %s), '
                           'server %s, MIN_UPDATES = clients that can train, %d client '
                           'processes, seed %d' % (
                               ALPHA, ', '.join('%d clients %d-%d' % (n, a, b)
                                                for n, (a, b) in SCENARIOS.items()),
                               ROUNDS, json.dumps(options), json.dumps(DEFAULTS),
                               json.dumps(server), WORKERS, SEED),
            'options': options, 'server': server, 'alpha': ALPHA, 'rounds': ROUNDS,
            'scenarios': SCENARIOS, 'seed': SEED},
        'labels': labels, 'runs': runs, 'seconds': time.perf_counter() - start,
        'load_average': '%.1f / %.1f' % (load[0], os.getloadavg()[0]),
        'versions': {'python': platform.python_version(), 'numpy': np.__version__}}
    previous = _load_results()
    if previous and previous.get('variants'):
        results['variants'] = previous['variants']   # from the last --explore run
    results['summary'] = summarise(runs)
    _save(results)
    for r in results['summary']:
        print('  %-8s %3d clients: centralised %s, FL round 10 %s (first within 2: %s), '
              'int8 vs float %+.1f, bytes ratio %.3f' % (
                  r['set'], r['clients'], _pct(r['centralised']), _pct(r['final']),
                  r['first_round_within_2'], -100 * r['quant_cost_final'], r['bytes_ratio']))
    return results


if __name__ == '__main__':
    if sys.argv[1:2] == ['--explore']:
        explore(sys.argv[2:])
    else:
        run()
