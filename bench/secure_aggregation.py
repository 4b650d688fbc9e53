"""Secure aggregation's cost and accuracy: ``python -m bench secure_aggregation``.

Questions: how much server time does a secure round take (goal: a cohort of 100 closes in at
most 5 s of server time on this machine), how many bytes does a browser send and receive in
one (vs the plain mode's single int8 update), and does the fixed-point sum cost accuracy
(goal: at round 10, within 0.5 point of plain FedAvg of int8 updates)?

Protocol:
- **Server time.** The real server (``fl.create_app``, FEDERATION_MODE secure, SQLite file in a
  temporary folder: WAL, synchronous=FULL as in production), driven through Flask's test
  client in this process by N Python members (``tests.support.secure_member.SecureMember``
  over ``tests.support.secagg_client.SecAggClient``: the browser's steps, the same core code,
  ``cryptography`` for WebCrypto). The page's federation shape, 3 labels x 384 (1,156 words
  a masked input); N = 10, 100 (everyone is everyone's neighbour) and 500 (SecAgg+ sparse
  graph of the core, degree ``secagg.graph_degree``). Each phase is split in two: first every
  member computes its message (``time.process_time`` around the client's work: keys, ECDH,
  Shamir, AES, JSON/base64 of the body, reading answers), then the requests go to the server
  one after another (``time.process_time`` and ``time.perf_counter`` around the test-client
  calls only: routing, auth, validation, SQL, commits, unmasking, the answer's JSON). So the
  server's numbers hold no client work; they do hold the test client's small overhead (WSGI
  environ, no sockets). A browser reads the round's state at least once a phase; the server
  time of those reads (one per member and phase, the minimum) is reported on its own and in
  the total. Dropouts: none, or floor(N/3) - 1 members that leave after sharing (they never
  send their masked input), so that the server must rebuild their mask keys and remove their
  pair masks from every surviving neighbour's input; the mask phase then ends at its
  deadline (a settable clock is moved past it). With the sparse graph a neighbourhood of k
  members tolerates floor(k/3) dropouts, so for N = 500 the dropouts are picked on the graph
  (greedily, spread over the ring) so that no neighbourhood loses more; how many random
  dropouts a neighbourhood would tolerate is reported. Medians over REPEATS rounds after
  one warm-up round, in one app; N = 500: one round of each.
- **Bytes per browser per round.** Request body (upload) and answer body (download) of each
  member's messages, mean over members, from the same rounds (HTTP headers not counted);
  the state reads (one per phase) counted apart. Plain mode: ``tinybert_core.codec
  .encode_update`` of a 3 x 384 head and the answer to ``POST /api/update``.
- **Accuracy.** ``bench/fl_simulation.py``'s machinery by import (``protocol.load_set``,
  ``protocol.split`` draw 0, ``partition`` with Dirichlet 0.5, 10 clients of 20-60 or 100 of
  10-30 examples, ``can_train``, ``_replica_task``: 5 local epochs as the page, the delta
  clipped to 30, ``aggregate``), on TREC-6 and sentence source, whose embeddings are in
  ``.cache/bench`` (SMS spam is not cached there and is left out). Plain: ``run_replica`` with
  int8 updates (fl_simulation's int8 arm). Secure: each client's clipped float delta (class
  statistics in round 1) and its example count encoded by ``secagg.encode_input`` (stochastic
  rounding, the scale ``secagg.fixed_point_scale`` of the cohort, weight cap 1000, clip 30),
  the inputs summed mod 2^32, ``secagg.decode_sum``, divided by the summed weight and applied
  as ``fl.secure_rounds._finish`` does (prototype head from version 0, else head + step,
  float32). No network and no masks: masks cancel exactly mod 2^32 (tested in
  tests/server/test_secure_rounds.py).

Writes ``bench/results/secure_aggregation.{json,md}``.
"""
import base64
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from bench import fl_simulation as fls
from bench import load_results, protocol, save_results
from fl import create_app, secure_rounds
from fl.first_round import prototype_head
from tests.support.fl_client import Clock
from tests.support.secagg_client import SecAggClient
from tests.support.secure_member import SecureMember, random_inputs
from tinybert_core import codec, secagg
from tinybert_core.codec import Head
from tinybert_core.rng import Rng

ROWS, COLS = 3, 384
CLIP = 30.0
WEIGHT_CAP = 1000
ROUND_SECONDS = 3600.0
SIZES = [10, 100, 500]
REPEATS = {10: 5, 100: 3, 500: 1}
WARMUP = {10: 1, 100: 1, 500: 0}
GOAL_SERVER_SECONDS = 5.0
GOAL_POINTS = 0.005
ACC_SETS = ['trec6', 'domain']
ACC_CLIENTS = [10, 100]
SEED = 0
PHASES = ['join', 'share', 'mask', 'reveal']


def dropouts_wanted(n):
    return n // 3 - 1


# --- one secure round through the server, client and server work measured apart ----------

class Meter:
    """CPU and wall seconds per (side, phase), bytes per (member, phase, direction)."""

    def __init__(self):
        self.cpu = {}
        self.wall = {}
        self.bytes = {}

    def _add(self, key, cpu, wall):
        self.cpu[key] = self.cpu.get(key, 0.0) + cpu
        self.wall[key] = self.wall.get(key, 0.0) + wall

    def server(self, phase, call, *args, **kwargs):
        """Run the test-client call ``call(*args, **kwargs)`` as server work of ``phase``."""
        c, w = time.process_time(), time.perf_counter()
        answer = call(*args, **kwargs)
        self._add(('server', phase), time.process_time() - c, time.perf_counter() - w)
        assert answer.status_code == 200, (phase, answer.status_code, answer.data[:300])
        return answer

    def client(self, phase, work, *args):
        c, w = time.process_time(), time.perf_counter()
        out = work(*args)
        self._add(('client', phase), time.process_time() - c, time.perf_counter() - w)
        return out

    def count(self, member, what, up, down):
        entry = self.bytes.setdefault(what, {})
        got = entry.setdefault(member, [0, 0])
        got[0] += up
        got[1] += down


def _b64(data):
    return base64.b64encode(bytes(data)).decode('ascii')


def _json_body(body):
    return json.dumps(body).encode('utf-8')


def _post_json(m, path, data):
    return m.http.post('/api/secure/%s?federation=default' % path, data=data,
                       content_type='application/json', headers=m._auth())


def _read_state(meter, members, phase, round_id):
    """Every member reads the round's state once (what it polls for); the last answer."""
    answer = None
    for m in members:
        answer = meter.server('state', m.http.get, '/api/secure/state?federation=default'
                              + ('' if round_id is None else '&round=%d' % round_id),
                              headers=m._auth())
        meter.count(m.id, 'state (%s)' % phase, 0, len(answer.data))
    return meter.client('state', answer.get_json)


def pick_dropouts(ids, seed, wanted, rng):
    """Up to ``wanted`` members whose leaving leaves every neighbourhood of the graph with its
    threshold: the ring of ``secagg.neighbourhoods`` walked every third place, then the rest;
    a member is taken when no neighbourhood it belongs to would lose more than a third."""
    graph = secagg.neighbourhoods(ids, seed)
    ring = sorted(ids)
    if secagg.graph_degree(len(ids)) < len(ids) - 1:
        Rng(seed).shuffle(ring)
    else:
        ring = list(rng.permutation(ring))
    lost = {u: 0 for u in ids}
    allowed = {u: len(graph[str(u)]) // 3 for u in ids}
    order = [ring[i] for start in range(3) for i in range(start, len(ring), 3)]
    chosen = []
    for d in order:
        if len(chosen) == wanted:
            break
        near = graph[str(d)]   # the graph is symmetric: d is in the neighbourhood of each
        if all(lost[u] < allowed[u] for u in near):
            for u in near:
                lost[u] += 1
            chosen.append(d)
    return chosen


def random_dropouts_tolerated(n, trials=200, seed=SEED):
    """For the sparse graph of ``n`` members: the share of random dropout sets of each size
    that leave every neighbourhood its threshold (no abort), as {dropouts: share}."""
    rng = np.random.default_rng(seed)
    ids = list(range(1, n + 1))
    out = {}
    for k in [int(round(f * n)) for f in (0.05, 0.10, 0.15, 0.20, 0.25, 0.30)] \
            + [dropouts_wanted(n)]:
        ok = 0
        for _ in range(trials):
            graph = secagg.neighbourhoods(ids, int(rng.integers(2 ** 32)))
            gone = set(rng.choice(ids, size=k, replace=False).tolist())
            ok += all(len(set(graph[str(u)]) & gone) <= len(graph[str(u)]) // 3 for u in ids)
        out[k] = ok / trials
    return out


def secure_round(http, clock, members, inputs, drop, meter, rng):
    """One round of ``members``; ``drop``: how many leave before sending their masked input.
    Returns facts about it (outcome, dropped count, graph degree)."""
    round_id = _read_state(meter, members, 'advertise', None)['round']
    # advertise: keys and join
    bodies = {}

    def make_join(m):
        m.protocol = SecAggClient(m.id, round_id)
        keys = m.protocol.advertise()
        return _json_body({'round': round_id, 'encryption_key': _b64(keys['encryption_key']),
                           'mask_key': _b64(keys['mask_key'])})
    for m in members:
        bodies[m.id] = meter.client('join', make_join, m)
    for m in members:
        answer = meter.server('join', _post_json, m, 'join', bodies[m.id])
        meter.count(m.id, 'join', len(bodies[m.id]), len(answer.data))
    # share
    state = _read_state(meter, members, 'share', round_id)
    assert state['phase'] == 'share', state

    def make_shares(m):
        keys = {x['id']: {'encryption_key': base64.b64decode(x['encryption_key']),
                          'mask_key': base64.b64decode(x['mask_key'])}
                for x in state['members']}
        graph = secagg.neighbourhoods([x['id'] for x in state['members']], state['graph_seed'])
        sealed = m.protocol.share(keys, graph)
        return _json_body({'round': round_id,
                           'shares': {str(k): _b64(v) for k, v in sealed.items()}})
    for m in members:
        bodies[m.id] = meter.client('share', make_shares, m)
    for m in members:
        answer = meter.server('share', _post_json, m, 'shares', bodies[m.id])
        meter.count(m.id, 'shares', len(bodies[m.id]), len(answer.data))
    ids = [x['id'] for x in state['members']]
    gone = set(pick_dropouts(ids, state['graph_seed'], drop, rng)) if drop else set()
    staying = [m for m in members if m.id not in gone]
    # mask: the inbox, then the masked input (those that leave send nothing more)
    state = _read_state(meter, staying, 'mask', round_id)
    assert state['phase'] == 'mask', state
    inboxes = {}
    for m in staying:
        answer = meter.server('mask', m.http.get, '/api/secure/shares?federation=default'
                              '&round=%d' % round_id, headers=m._auth())
        inboxes[m.id] = answer
        meter.count(m.id, 'inbox', 0, len(answer.data))
    position = {m.id: i for i, m in enumerate(members)}

    def make_masked(m):
        inbox = inboxes[m.id].get_json()
        sealed = {int(k): base64.b64decode(v) for k, v in inbox['shares'].items()}
        words = m.protocol.masked_input(sealed, *inputs[position[m.id]], state['scale'],
                                        state['clip'], state['weight_cap'])
        return words.astype('<u4').tobytes()
    for m in staying:
        bodies[m.id] = meter.client('mask', make_masked, m)
    for m in staying:
        answer = meter.server('mask', m.http.post, '/api/secure/masked?federation=default'
                              '&round=%d' % round_id, data=bodies[m.id], headers=m._auth(),
                              content_type='application/octet-stream')
        meter.count(m.id, 'masked input', len(bodies[m.id]), len(answer.data))
    if gone:
        clock.now += ROUND_SECONDS / 4 + 1   # the mask phase's deadline passes
    # reveal: the last message unmasks the sum
    state = _read_state(meter, staying, 'reveal', round_id)
    assert state['phase'] == 'reveal', state
    def make_reveal(m):
        shares = m.protocol.reveal(state['survivors'])
        return _json_body({'round': round_id,
                           'seed': {str(k): _b64(v) for k, v in shares['seed'].items()},
                           'key': {str(k): _b64(v) for k, v in shares['key'].items()}})
    for m in staying:
        bodies[m.id] = meter.client('reveal', make_reveal, m)
    for i, m in enumerate(staying):
        phase = 'close' if i == len(staying) - 1 else 'reveal'
        answer = meter.server(phase, _post_json, m, 'reveal', bodies[m.id])
        meter.count(m.id, 'reveal', len(bodies[m.id]), len(answer.data))
    final = _read_state(meter, staying, 'end', round_id)
    assert final['phase'] == 'aggregated', final
    near = secagg.neighbourhoods(ids, state['graph_seed'])
    return {'dropped': len(gone), 'survivors': len(state['survivors']),
            'neighbourhood': len(near[str(ids[0])]), 'result_version': final['result_version']}


class _Timed:
    """Wraps ``fl.secure_rounds.unmask_sum`` to time the unmasking alone."""

    def __init__(self):
        self.original = secure_rounds.unmask_sum
        self.last = None

    def __enter__(self):
        def timed(*args, **kwargs):
            c, w = time.process_time(), time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.last = (time.process_time() - c, time.perf_counter() - w)
        secure_rounds.unmask_sum = timed
        return self

    def __exit__(self, *exc):
        secure_rounds.unmask_sum = self.original


def _summary_of(meter, facts, unmask):
    server = {p: meter.cpu.get(('server', p), 0.0) for p in PHASES + ['close', 'state']}
    wall = {p: meter.wall.get(('server', p), 0.0) for p in PHASES + ['close', 'state']}
    client = {p: meter.cpu.get(('client', p), 0.0) for p in PHASES + ['state']}
    messages = sum(v for k, v in server.items() if k != 'state')
    return dict(facts, **{
        'server_cpu_s': messages, 'server_cpu_with_state_reads_s': messages + server['state'],
        'server_wall_s': sum(v for k, v in wall.items() if k != 'state'),
        'server_wall_with_state_reads_s': sum(wall.values()),
        'server_cpu_by_phase_s': server, 'server_wall_by_phase_s': wall,
        'unmask_cpu_s': unmask[0], 'unmask_wall_s': unmask[1],
        'clients_cpu_s': sum(client.values()), 'clients_cpu_by_phase_s': client})


def _bytes_of(meter):
    out = {}
    for what, by_member in meter.bytes.items():
        ups = [v[0] for v in by_member.values()]
        downs = [v[1] for v in by_member.values()]
        out[what] = {'members': len(by_member), 'up_mean': float(np.mean(ups)),
                     'down_mean': float(np.mean(downs)), 'up_max': int(max(ups)),
                     'down_max': int(max(downs))}
    return out


def cohort(n, folder, rng):
    """Rounds of ``n`` members, without and with dropouts; medians after the warm-up."""
    clock = Clock()
    app = create_app({'TESTING': True, 'FEDERATION_MODE': 'secure', 'MIN_UPDATES': n,
                      'SECURE_MIN_COHORT': min(n, 5), 'ROUND_SECONDS': ROUND_SECONDS,
                      'CLIP_BOUND': CLIP, 'SECURE_WEIGHT_CAP': WEIGHT_CAP, 'CLOCK': clock,
                      'DATABASE_PATH': os.path.join(folder, 'secure-%d.sqlite3' % n)})
    http = app.test_client()
    members = [SecureMember(http) for _ in range(n)]
    out = {'members': n, 'graph_degree': secagg.graph_degree(n),
           'threshold': secagg.threshold(secagg.graph_degree(n) + 1)}
    with _Timed() as timed:
        for label, drop in (('no dropouts', 0), ('dropouts', dropouts_wanted(n))):
            runs = []
            for r in range(WARMUP[n] + REPEATS[n]):
                inputs = random_inputs(n, ROWS, COLS, CLIP, rng, WEIGHT_CAP)
                meter = Meter()
                start = time.perf_counter()
                facts = secure_round(http, clock, members, inputs, drop, meter, rng)
                facts['round_total_wall_s'] = time.perf_counter() - start
                summary = _summary_of(meter, facts, timed.last)
                summary['bytes'] = _bytes_of(meter)
                print('    N=%d %s round %d: server CPU %.2f s (+ state reads %.2f s), wall '
                      '%.2f s, unmask %.2f s, clients %.1f s, dropped %d' % (
                          n, label, r, summary['server_cpu_s'],
                          summary['server_cpu_with_state_reads_s'] - summary['server_cpu_s'],
                          summary['server_wall_s'], summary['unmask_cpu_s'],
                          summary['clients_cpu_s'], facts['dropped']), flush=True)
                if r >= WARMUP[n]:
                    runs.append(summary)
            out[label] = {'runs': runs, 'median': _medians(runs)}
    app.extensions['fl'].database.dispose()
    return out


def _medians(runs):
    keys = [k for k, v in runs[0].items() if isinstance(v, float)]
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def plain_bytes(folder):
    """The plain mode's upload (one int8 update of a 3 x 384 head) and its answer."""
    app = create_app({'TESTING': True, 'FEDERATION_MODE': 'plain', 'MIN_UPDATES': 3,
                      'DATABASE_PATH': os.path.join(folder, 'plain.sqlite3')})
    http = app.test_client()
    who = http.post('/api/register', json={}).get_json()
    state = http.get('/api/federation')
    rng = np.random.default_rng(0)
    update = codec.Update(who['client_id'], state.get_json()['round']['id'], 0, 20, ROWS, COLS,
                          rng.normal(scale=0.02, size=ROWS * COLS).tolist(),
                          rng.normal(scale=0.02, size=ROWS).tolist())
    data = codec.encode_update(update, CLIP)
    answer = http.post('/api/update', data=data, content_type='application/octet-stream',
                       headers={'Authorization': 'Bearer ' + who['token']})
    assert answer.status_code == 202, answer.get_json()
    app.extensions['fl'].database.dispose()
    return {'update_up': len(data), 'answer_down': len(answer.data),
            'federation_state_down': len(state.data)}


# --- accuracy: fixed-point secure sums vs plain FedAvg of int8 updates --------------------

def secure_aggregate(head, deltas, counts, scale, rng):
    """``fl.secure_rounds._finish`` on the clients' inputs, without masks: encode, sum mod
    2^32, decode, divide by the summed weight, prototype head or head + step (float32)."""
    total = np.zeros(secagg.input_length(head.rows, head.cols), dtype=np.uint32)
    for delta, count in zip(deltas, counts):
        split = head.rows * head.cols
        words = secagg.encode_input(delta[:split].tolist(), delta[split:].tolist(), int(count),
                                    scale, CLIP, WEIGHT_CAP, rng.bytes(4 * len(delta)))
        total += np.array(words, dtype=np.uint32)
    sums = secagg.decode_sum(total.tolist(), scale, head.rows, head.cols)
    step = np.concatenate([sums['weights'], sums['bias']]) / float(sums['weight'])
    if head.version == 0:
        new = prototype_head(step, head.rows, head.cols)
    else:
        new = np.concatenate([head.weights, head.bias]).astype(np.float64) + step
    new = new.astype(np.float32)
    split = head.rows * head.cols
    return Head(head.version + 1, head.rows, head.cols, new[:split].astype(np.float64).tolist(),
                new[split:].astype(np.float64).tolist())


def run_secure_replica(labels, clients, options, pool, Xt, yt, rounds, seed):
    """fl_simulation.run_replica with the secure aggregation (float deltas, as the page
    encodes them before masking). Returns per-round entries."""
    rng = np.random.default_rng(seed)
    scale = secagg.fixed_point_scale(len(clients), WEIGHT_CAP, CLIP)
    head = Head(0, len(labels), Xt.shape[1], [0.0] * (len(labels) * Xt.shape[1]),
                [0.0] * len(labels))
    history = [{'round': 0, 'accuracy': fls.accuracy(head.weights, head.bias, Xt, yt)}]
    for r in range(1, rounds + 1):
        tasks = [(labels, rows, head, options, CLIP, False, j + 1)
                 for j, rows in enumerate(clients)]
        results = list(pool.map(fls._replica_task, tasks))
        head = secure_aggregate(head, [d for d, _, _ in results], [n for _, n, _ in results],
                                scale, rng)
        history.append({'round': r, 'accuracy': fls.accuracy(head.weights, head.bias, Xt, yt)})
    return history, scale


def accuracy_runs():
    options, server = fls.product_settings()
    out = {}
    for name in ACC_SETS:
        X, y, labels = protocol.load_set(name)
        fls._DATA['X'], fls._DATA['y'] = X, y
        train_rows, test_rows = protocol.split(y, len(labels), None, 0)
        Xt, yt = X[test_rows], y[test_rows]
        out[name] = {}
        context = multiprocessing.get_context('fork')
        with ProcessPoolExecutor(fls.WORKERS, mp_context=context) as pool:
            for n in ACC_CLIENTS:
                print('  accuracy: %s, %d clients ...' % (name, n), flush=True)
                start = time.perf_counter()
                rng = np.random.default_rng(fls.SEED + n)   # fl_simulation's partition draw
                clients, _ = fls.partition(y, train_rows, len(labels), n, fls.SCENARIOS[n],
                                           fls.ALPHA, rng)
                able = [rows for rows in clients if fls.can_train(labels, rows)]
                plain = fls.run_replica(labels, able, options, server, pool, Xt, yt, True,
                                        fls.ROUNDS)
                secure, scale = run_secure_replica(labels, able, options, pool, Xt, yt,
                                                   fls.ROUNDS, SEED + n)
                out[name][str(n)] = {
                    'clients': n, 'can_train': len(able), 'scale': scale,
                    'plain_int8': [e['accuracy'] for e in plain],
                    'secure': [e['accuracy'] for e in secure],
                    'seconds': time.perf_counter() - start}
    return out


# --- report -------------------------------------------------------------------------------

def _pct(v):
    return '%.1f' % (100 * v)


PHASE_ROWS = [('join', 'join'), ('shares', 'shares'), ('inbox', 'inbox (GET shares)'),
              ('masked input', 'masked input'), ('reveal', 'reveal')]


def markdown(results):
    s = results['settings']
    lines = ['# Secure aggregation: server time, bytes per browser, accuracy', '',
             'Settings: %s. Run time %.0f s; load average before/after %s (2 cores shared).'
             % (s['description'], results['seconds'], results['load_average']), '',
             '## Server time per round', '',
             'Goal: a cohort of 100 closes in at most %.0f s of server time. Server CPU: '
             '`time.process_time` around the test-client calls of the round\'s messages (join, '
             'shares, inbox, masked input, reveal), without the members\' work; "+ state reads": '
             'plus one `GET /api/secure/state` per member and phase (a browser polls at least '
             'that). Wall: the same calls\' `perf_counter` (SQLite commits fsync). Unmask: '
             '`unmask_sum` alone, inside the last reveal. Clients: all members\' CPU together '
             '(in browsers it is spread over N machines). Medians of %s rounds after %s '
             'warm-up.' % (GOAL_SERVER_SECONDS, s['repeats'], s['warmup']), '',
             '| N | graph: neighbours | dropouts at mask | server CPU, s | + state reads, s '
             '| server wall, s | + state reads, s | last reveal (closes), s | unmask, s '
             '| clients CPU (all), s | goal |',
             '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    for n in [int(k) for k in results['server']]:
        c = results['server'][str(n)]
        for label in ('no dropouts', 'dropouts'):
            m = c[label]['median']
            run = c[label]['runs'][0]
            goal = ''
            if n == 100:
                goal = '%s (%.2f s; %.2f s with state reads)' % (
                    'met' if m['server_cpu_s'] <= GOAL_SERVER_SECONDS else 'MISSED',
                    m['server_cpu_s'], m['server_cpu_with_state_reads_s'])
            lines.append('| %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %s |'
                         % (n, c['graph_degree'], run['dropped'], m['server_cpu_s'],
                            m['server_cpu_with_state_reads_s'], m['server_wall_s'],
                            m['server_wall_with_state_reads_s'],
                            run['server_cpu_by_phase_s']['close'] if len(c[label]['runs']) == 1
                            else statistics.median(r['server_cpu_by_phase_s']['close']
                                                   for r in c[label]['runs']),
                            m['unmask_cpu_s'], m['clients_cpu_s'], goal))
    lines += ['', 'Server CPU by phase (s, median round; "close" is the last reveal, which '
              'unmasks and writes the head):', '',
              '| N | dropouts | join | share | mask | reveal | close | state reads |',
              '|---:|---:|---:|---:|---:|---:|---:|---:|']
    for n in [int(k) for k in results['server']]:
        c = results['server'][str(n)]
        for label in ('no dropouts', 'dropouts'):
            runs = c[label]['runs']
            by = {p: statistics.median(r['server_cpu_by_phase_s'][p] for r in runs)
                  for p in PHASES + ['close', 'state']}
            lines.append('| %d | %d | %s |' % (n, runs[0]['dropped'], ' | '.join(
                '%.3f' % by[p] for p in PHASES + ['close', 'state'])))
    note = results['server'].get('500', {}).get('random_dropouts')
    if note:
        lines += ['', 'N = 500, sparse graph (neighbourhoods of %d, each tolerating %d '
                  'dropouts): the dropouts were picked so that no neighbourhood lost more '
                  '(%d of the floor(N/3) - 1 = %d wanted could be). Random dropouts of that '
                  'size nearly always leave some neighbourhood short, and the round aborts; '
                  'share of %d random dropout sets that the round survives: %s.' % (
                      results['server']['500']['graph_degree'] + 1,
                      (results['server']['500']['graph_degree'] + 1) // 3,
                      results['server']['500']['dropouts']['runs'][0]['dropped'],
                      dropouts_wanted(500), 200, ', '.join(
                          '%s dropouts %.0f%%' % (k, 100 * v) for k, v in note.items()))]
    lines += ['', '## Bytes per browser per round', '',
              'Mean over members of one round (the first measured round), bodies only '
              '(no HTTP headers). Upload / download in bytes. Plain mode: one int8 update '
              '(`codec.encode_update`, 3 x 384) of %d bytes up and its answer of %d bytes '
              'down (its state read, `GET /api/federation`, %d bytes).' % (
                  results['plain']['update_up'], results['plain']['answer_down'],
                  results['plain']['federation_state_down']), '',
              '| N | dropouts | ' + ' | '.join(t for _, t in PHASE_ROWS)
              + ' | messages up | messages down | state reads down (5: advertise .. end) '
              '| total up+down | x plain update |',
              '|---:|---:|' + '---:|' * (len(PHASE_ROWS) + 5)]
    plain = results['plain']['update_up'] + results['plain']['answer_down']
    for n in [int(k) for k in results['server']]:
        c = results['server'][str(n)]
        for label in ('no dropouts', 'dropouts'):
            run = c[label]['runs'][0]
            b = run['bytes']
            cells = []
            up = down = 0.0
            for key, _ in PHASE_ROWS:
                e = b.get(key, {'up_mean': 0, 'down_mean': 0})
                cells.append('%.0f / %.0f' % (e['up_mean'], e['down_mean']))
                up += e['up_mean']
                down += e['down_mean']
            state = sum(e['down_mean'] for k, e in b.items() if k.startswith('state'))
            total = up + down + state
            lines.append('| %d | %d | %s | %.0f | %.0f | %.0f | %.0f | %.1f |' % (
                n, run['dropped'], ' | '.join(cells), up, down, state, total, total / plain))
    lines += ['', '(Members that stay; those that left sent no masked input and no reveal.)',
              '', '## Accuracy at round 10: secure (fixed point) vs plain FedAvg (int8)', '',
              'Goal: within %.1f point. Held-out 1,000 rows, %%; rounds 0..10. '
              'bench/fl_simulation.py\'s split, Dirichlet 0.5 partition, local training and '
              'int8 arm, by import; embeddings from the cache of bench/embed.py '
              '(.cache/bench); SMS spam has no cached embeddings and is left out. Scale: '
              'the fixed-point scale of the cohort (weight cap %d, clip %g).'
              % (100 * GOAL_POINTS, WEIGHT_CAP, CLIP), '',
              '| set | clients | can train | scale | plain int8, round 10 | secure, round 10 '
              '| difference (points) | largest difference, rounds 1-10 | goal |',
              '|---|---:|---:|---:|---:|---:|---:|---:|---|']
    for name, by_n in results.get('accuracy', {}).items():
        for n, r in by_n.items():
            diffs = [a - b for a, b in zip(r['secure'][1:], r['plain_int8'][1:])]
            lines.append('| %s | %s | %d | %g | %s | %s | %+.1f | %.1f | %s |' % (
                name, n, r['can_train'], r['scale'], _pct(r['plain_int8'][-1]),
                _pct(r['secure'][-1]), round(100 * diffs[-1], 1) + 0.0,
                100 * max(abs(d) for d in diffs),
                'met' if abs(diffs[-1]) <= GOAL_POINTS + 1e-12 else 'MISSED'))
    lines += ['', 'Per round, plain / secure:', '']
    for name, by_n in results.get('accuracy', {}).items():
        for n, r in by_n.items():
            lines.append('- %s, %s clients: %s / %s' % (
                name, n, ' '.join(_pct(a) for a in r['plain_int8']),
                ' '.join(_pct(a) for a in r['secure'])))
    lines.append('')
    return '\n'.join(lines)


def run(sizes=None, accuracy=True):
    load = os.getloadavg()
    start = time.perf_counter()
    rng = np.random.default_rng(SEED)
    results = {'settings': {
        'description': 'federation 3 labels x 384 (input %d words), CLIP_BOUND %g, '
                       'SECURE_WEIGHT_CAP %d, SQLite (WAL, synchronous FULL), Flask test '
                       'client in one process, Python members (cryptography %s)' % (
                           secagg.input_length(ROWS, COLS), CLIP, WEIGHT_CAP,
                           __import__('cryptography').__version__),
        'repeats': ', '.join('%d (N=%d)' % (REPEATS[n], n) for n in SIZES),
        'warmup': ', '.join('%d (N=%d)' % (WARMUP[n], n) for n in SIZES)},
        'server': {}}
    with tempfile.TemporaryDirectory(prefix='secagg-bench-') as folder:
        results['plain'] = plain_bytes(folder)
        for n in sizes or SIZES:
            print('  server: %d members ...' % n, flush=True)
            results['server'][str(n)] = cohort(n, folder, rng)
            if secagg.graph_degree(n) < n - 1:
                results['server'][str(n)]['random_dropouts'] = {
                    str(k): v for k, v in random_dropouts_tolerated(n).items()}
    if accuracy:
        results['accuracy'] = accuracy_runs()
    results['seconds'] = time.perf_counter() - start
    results['load_average'] = '%.1f / %.1f' % (load[0], os.getloadavg()[0])
    results['versions'] = {'python': platform.python_version(), 'numpy': np.__version__}
    save_results('secure_aggregation', results, markdown(results))
    print(markdown(results))
    return results


def rewrite_markdown():
    """Write the Markdown again from the saved JSON (after a change to ``markdown``)."""
    results = load_results('secure_aggregation')
    save_results('secure_aggregation', results, markdown(results))


if __name__ == '__main__':
    run()
