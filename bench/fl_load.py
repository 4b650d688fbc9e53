"""Server load: ``python -m bench fl_load`` (``--seconds``, ``--workers``, ``--databases``).

Question: on this machine, do 50 concurrent clients posting valid updates get >= 500
accepted updates/s with p99 <= 250 ms and no errors, on SQLite and on PostgreSQL?

Protocol:
- gunicorn ``-c python:fl.gunicorn_conf -w WORKERS`` (gthread workers, 16 threads each,
  keep-alive: the README's command) serving ``fl.wsgi:app`` on loopback; the default
  federation (3 labels x 384, the page's), MIN_UPDATES 100, ROUND_SECONDS 3600. Rounds
  therefore close while updates keep arriving, as they do in service: an update in flight
  when its round closes gets 409 stale_round/stale_base, the client takes the current round
  and head version from that answer's body and sends again (counted apart, not as errors).
  Everything else that is not 202 is an error; only 202s count as throughput.
- SQLite: a file in a temporary folder (WAL, synchronous=FULL as the server sets it).
  PostgreSQL: a throw-away server (``tests/support/postgres.py``) with its durable defaults
  (fsync and synchronous_commit on; the test suite turns both off).
- 400 registered clients: each of the 50 client threads owns 8 and sends each at most once
  a round (no replays); a thread that used all 8 in the current round waits for it to close
  (counted as waits). Each thread keeps one ``http.client`` connection (kept alive by
  gthread workers; sync workers close it after each answer).
- Bodies: one delta quantised by ``codec.encode_update``; per request the client id, round
  and base version are written into its header and the CRC recomputed with ``zlib.crc32``
  (checked once to give the bytes ``encode_update`` gives), so the generator spends no
  CPU on the pure-Python codec.
- Latency: from sending a POST to reading its answer, per request. Bounded: SECONDS of
  load, at most 200,000 requests.
- Where the time goes: CPU seconds of the server processes, and ``bench.fl_server.profile``:
  the same updates through the Flask test client in-process (no HTTP), with timers around
  the pieces of the request path.

Writes ``bench/results/fl_load.{json,md}``. Options: ``--seconds``, ``--workers``,
``--databases``; ``--trials`` (worker counts and classes) and ``--switches`` (group commit
and the SQLite write lock on and off) add short runs to the saved results.
"""
import argparse
import http.client
import json
import os
import platform
import sys
import tempfile
import threading
import time

import numpy as np

from bench import load_results, save_results
from bench.fl_client_sim import HOST, ServerProcess, SimClient
from bench.fl_server import Body, fsync_ms, profile

CLIENTS = 50
IDS_PER_CLIENT = 8
MIN_UPDATES = 100
SECONDS = 60
MAX_REQUESTS = 200000
WORKERS = 2
GOALS = {'updates_per_second': 500, 'p99_ms': 250, 'errors': 0}


class Shared:
    """What the client threads know of the federation, plus their counts."""

    def __init__(self, state):
        self.lock = threading.Lock()
        self.round = state['round']['id']
        self.version = state['head_version']
        self.counts = {}
        self.latency_ok = []
        self.latency_stale = []
        self.errors = []

    def learn(self, round_id, version):
        """Take a (round, head version) pair from an answer unless an older round."""
        with self.lock:
            if round_id >= self.round:
                self.round, self.version = round_id, version

    def now(self):
        with self.lock:
            return self.round, self.version


def _post(conn, body, token):
    conn.request('POST', '/api/update', body=body, headers={
        'Content-Type': 'application/octet-stream', 'Authorization': 'Bearer ' + token})
    answer = conn.getresponse()
    data = answer.read()
    if answer.will_close:
        conn.close()
    return answer.status, data


def _client_thread(port, identities, body, shared, deadline, budget):
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    reader = SimClient(port, 'default')
    sent_in = [-1] * len(identities)
    turn = 0
    ok, stale, waits = [], [], 0
    counts = {}
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        round_id, version = shared.now()
        pick = None
        for step in range(len(identities)):
            i = (turn + step) % len(identities)
            if sent_in[i] != round_id:
                pick = i
                break
        if pick is None:   # every identity of this thread sent in this round: wait for it
            waits += 1
            state = reader.state()
            shared.learn(state['round']['id'], state['head_version'])
            time.sleep(0.01)
            continue
        turn = pick + 1
        identity = identities[pick]
        data = body.make(identity['client_id'], round_id, version)
        start = time.perf_counter()
        try:
            status, raw = _post(conn, data, identity['token'])
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            counts['connection_error'] = counts.get('connection_error', 0) + 1
            shared.errors.append(repr(exc)[:200])
            continue
        elapsed = time.perf_counter() - start
        answer = json.loads(raw)
        if status == 202:
            ok.append(elapsed)
            sent_in[pick] = round_id
            shared.learn(answer['current_round'], answer['head_version'])
            key = 'accepted'
        elif status == 409 and answer['error'] in ('stale_round', 'stale_base'):
            stale.append(elapsed)
            shared.learn(answer['current_round'], answer['head_version'])
            key = 'stale_' + answer['error'].split('_')[1]
        else:
            key = '%d %s' % (status, answer.get('error'))
            if len(shared.errors) < 20:
                shared.errors.append('%s: %s' % (key, answer.get('detail')))
        counts[key] = counts.get(key, 0) + 1
    conn.close()
    reader.close()
    with shared.lock:
        shared.latency_ok += ok
        shared.latency_stale += stale
        for key, n in counts.items():
            shared.counts[key] = shared.counts.get(key, 0) + n
        shared.counts['waits_for_round'] = shared.counts.get('waits_for_round', 0) + waits


def _register_all(port, count, threads=CLIENTS):
    out = [None] * count
    next_index = [0]
    lock = threading.Lock()

    def work():
        client = SimClient(port, 'default')
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= count:
                break
            client.identity = None
            out[i] = client.register()
        client.close()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return out, count / (time.perf_counter() - start)


def _cpu_seconds(root_pid):
    """user+system CPU seconds of ``root_pid``, its live direct children and the children it
    has waited for (Linux /proc): a process per connection is counted after it exits."""
    tick = os.sysconf('SC_CLK_TCK')
    total = 0.0
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(entry) == root_pid:   # with the children it has already waited for
            total += sum(int(v) for v in fields[11:15]) / tick
        elif int(fields[1]) == root_pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _percentiles(values):
    if not values:
        return {'p50_ms': None, 'p99_ms': None, 'max_ms': None}
    ms = np.asarray(values) * 1e3
    return {'p50_ms': float(np.percentile(ms, 50)), 'p99_ms': float(np.percentile(ms, 99)),
            'max_ms': float(ms.max())}


def load_run(env, folder, label, workers, seconds, postgres_pid=None, extra=()):
    """One timed load run against gunicorn with ``env``; returns its results dict.

    extra: more gunicorn arguments (e.g. another worker class).
    """
    env = dict(env, MIN_UPDATES=MIN_UPDATES, ROUND_SECONDS=3600, FEDERATION_MODE='plain')
    server = ServerProcess(env, os.path.join(folder, label + '.log'),
                           cmd=('gunicorn', workers, '-c', 'python:fl.gunicorn_conf',
                                '--timeout', '120', '--backlog', '2048')
                           + tuple(extra))
    server.start()
    try:
        identities, registrations = _register_all(server.port, CLIENTS * IDS_PER_CLIENT)
        reader = SimClient(server.port, 'default')
        state = reader.state()
        body = Body(state['clip_bound'])
        body.check()
        shared = Shared(state)
        budget = [MAX_REQUESTS]
        cpu_before = _cpu_seconds(server.proc.pid)
        pg_before = _cpu_seconds(postgres_pid) if postgres_pid else None
        client_before = time.process_time()
        start = time.monotonic()
        deadline = start + seconds
        threads = [threading.Thread(target=_client_thread, args=(
            server.port, identities[i * IDS_PER_CLIENT:(i + 1) * IDS_PER_CLIENT], body, shared,
            deadline, budget)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 120)
        elapsed = time.monotonic() - start
        server_cpu = _cpu_seconds(server.proc.pid) - cpu_before
        pg_cpu = (_cpu_seconds(postgres_pid) - pg_before) if postgres_pid else None
        client_cpu = time.process_time() - client_before
        end = reader.state()
        stored = _stored_since(reader, state['round']['id'], end['round']['id'])
        reader.close()
    finally:
        server.stop()
    accepted = shared.counts.get('accepted', 0)
    errors = sum(n for k, n in shared.counts.items()
                 if k not in ('accepted', 'stale_round', 'stale_base', 'waits_for_round'))
    out = {'database': label, 'gunicorn_workers': workers, 'seconds': elapsed,
           'registrations_per_second': registrations, 'counts': shared.counts,
           'updates_per_second': accepted / elapsed, 'errors': errors,
           'error_samples': shared.errors[:10],
           'accepted': _percentiles(shared.latency_ok),
           'stale_409': _percentiles(shared.latency_stale),
           'rounds_closed': end['head_version'] - state['head_version'],
           'server_counts': stored,
           'cpu_seconds_per_update_ms': {
               'gunicorn': 1e3 * server_cpu / max(accepted, 1),
               'postgres': None if pg_cpu is None else 1e3 * pg_cpu / max(accepted, 1),
               'load_generator': 1e3 * client_cpu / max(accepted, 1)},
           'hung_threads': sum(t.is_alive() for t in threads)}
    # The server's own count must match the 202s the clients read, refusals included.
    out['counts_agree'] = (stored['accepted'] == accepted and stored['refused']
                           == shared.counts.get('stale_round', 0)
                           + shared.counts.get('stale_base', 0))
    out['goal_met'] = (out['updates_per_second'] >= GOALS['updates_per_second']
                       and out['accepted']['p99_ms'] is not None
                       and out['accepted']['p99_ms'] <= GOALS['p99_ms'] and errors == 0
                       and out['counts_agree'])
    return out


def _stored_since(reader, first, last):
    """Updates the server stored and refused in rounds ``first``..``last`` (its reports)."""
    totals = {'accepted': 0, 'refused': 0}
    for round_id in range(first, last + 1):
        report = reader.http.json('GET', '/api/rounds/%d' % round_id)
        totals['accepted'] += report['accepted']
        totals['refused'] += report['refused']
    return totals


def start_postgres():
    """A throw-away PostgreSQL server (tests/support/postgres.py) with durable settings: returns
    (server, url of an empty database, postmaster pid)."""
    from tests.support import postgres as pg_support

    class DurablePostgres(pg_support.PostgresServer):
        """pg_support's server with PostgreSQL's own defaults for fsync and commits."""

        def start(self):
            self._run('initdb', '-D', self.data, '-U', 'fl', '--auth=trust', '-E', 'UTF8',
                      '--no-sync', '--no-instructions')
            options = ('-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200'
                       % (self.port, self.root))
            self._run('pg_ctl', '-D', self.data, '-o', options, '-l',
                      os.path.join(self.root, 'server.log'), '-w', '-t', '60', 'start')
            return self

    bin_dir = pg_support._bin_dir()
    if bin_dir is None:
        raise RuntimeError('PostgreSQL is not installed (Debian package postgresql)')
    server = DurablePostgres(bin_dir).start()
    with open(os.path.join(server.data, 'postmaster.pid')) as f:
        pid = int(f.readline())
    return server, server.create_database('fl_load'), pid


def markdown(results):
    s = results['settings']
    lines = ['# FL server under load', '',
             'Settings: %s. Load average before/after: %s. Run time %.0f s.'
             % (s['description'], results['load_average'], results['seconds']), '',
             'Goal: >= %d accepted updates/s, p99 <= %d ms, %d errors.'
             % (GOALS['updates_per_second'], GOALS['p99_ms'], GOALS['errors']), '',
             '| database | gunicorn workers | accepted updates/s | p50 ms | p99 ms | max ms '
             '| 409 stale (expected) | errors | rounds closed | goal |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|']
    for r in results['runs']:
        stale = r['counts'].get('stale_round', 0) + r['counts'].get('stale_base', 0)
        lines.append('| %s | %d | %.0f | %.1f | %.1f | %.0f | %d | %d | %d | %s |' % (
            r['database'], r['gunicorn_workers'], r['updates_per_second'],
            r['accepted']['p50_ms'], r['accepted']['p99_ms'], r['accepted']['max_ms'], stale,
            r['errors'], r['rounds_closed'], 'met' if r['goal_met'] else 'MISSED'))
    lines += ['', 'CPU time per accepted update (ms): gunicorn workers / PostgreSQL server / '
              'load generator; registrations per second before the run:', '']
    for r in results['runs']:
        c = r['cpu_seconds_per_update_ms']
        lines.append('- %s: %.2f / %s / %.2f; %.0f registrations/s; counts %s; the server\'s '
                     'round reports: %s (%s)%s' % (
                         r['database'], c['gunicorn'],
                         '-' if c['postgres'] is None else '%.2f' % c['postgres'],
                         c['load_generator'], r['registrations_per_second'],
                         json.dumps(r['counts']), json.dumps(r['server_counts']),
                         'agree' if r['counts_agree'] else 'DISAGREE',
                         ('; errors: ' + '; '.join(r['error_samples']))
                         if r['error_samples'] else ''))
    lines += ['', '## Where the time goes', '',
              'The same updates through the Flask test client in one process (no HTTP, no '
              'concurrency), %d updates, MIN_UPDATES %d; wall ms per update. "close:" rows are '
              'the part of the round-closing update spent inside the federation lock. fsync of '
              '4 KiB in the SQLite folder: %.2f ms (median).'
              % (results['profiles'][0]['updates'], MIN_UPDATES, results['fsync_ms']), '',
              '| part | ' + ' | '.join(p['database'] for p in results['profiles']) + ' |',
              '|---|' + '---:|' * len(results['profiles'])]
    parts = []
    for p in results['profiles']:
        for k in p['parts_ms_per_update']:
            if k not in parts:
                parts.append(k)
    for k in parts:
        lines.append('| %s | %s |' % (k, ' | '.join(
            '%.2f' % p['parts_ms_per_update'].get(k, 0.0) for p in results['profiles'])))
    lines.append('| **total** | %s |' % ' | '.join(
        '%.2f' % p['total_ms_per_update'] for p in results['profiles']))
    lines += ['', 'A page also reads the federation and the head before each update (same '
              'in-process measurement, ms a request): ' + '; '.join(
                  '%s: %s' % (p['database'], ', '.join('%s %.2f' % kv
                                                      for kv in p['reads_ms'].items()))
                  for p in results['profiles']) + '.']
    if results.get('baseline'):
        b = results['baseline']
        lines += ['', '## The server before this version (%s), same bench just before'
                  % b['server'], '']
        for t in b['runs']:
            lines.append('- %s' % t)
    if results.get('switches'):
        lines += ['', '## Group commit and the SQLite write lock, on and off (%d s runs, same'
                  ' load, one after the other)' % TRIAL_SECONDS, '']
        for t in results['switches']:
            lines.append('- %s' % t)
    if results.get('tried'):
        lines += ['', '## Server configurations tried (%d s runs, same load%s)' % (
            TRIAL_SECONDS, ', ' + results['tried_with'] if results.get('tried_with') else ''),
                  '']
        for t in results['tried']:
            lines.append('- %s' % t)
    return '\n'.join(lines) + '\n'


SERVER_CLASS = 'gthread x16 keep-alive'   # fl/gunicorn_conf.py
SYNC = ('-k', 'sync', '--threads', '1')   # gunicorn runs gthread for sync with threads > 1
TRIALS = [('sqlite', 2, ()), ('sqlite', 4, ()), ('sqlite', 2, ('--threads', '32')),
          ('sqlite', 4, ('--threads', '8')), ('sqlite', 2, SYNC), ('sqlite', 4, SYNC),
          ('postgresql', 2, ()), ('postgresql', 4, ('--threads', '8')),
          ('postgresql', 2, SYNC)]
TRIAL_SECONDS = 15
# The server's switches (fl/config.py) whose worth --switches measures.
SWITCHES = [('sqlite', {}), ('sqlite', {'GROUP_COMMIT': '0'}),
            ('sqlite', {'SQLITE_WRITE_LOCK': '0'}),
            ('sqlite', {'GROUP_COMMIT': '0', 'SQLITE_WRITE_LOCK': '0'}),
            ('postgresql', {}), ('postgresql', {'GROUP_COMMIT': '0'})]


def _line(r, extra=()):
    c = r['cpu_seconds_per_update_ms']
    return ('%s, %d workers, %s: %.0f updates/s, p50 %.1f ms, p99 %.1f ms, %d stale, '
            '%d errors%s; CPU ms/update gunicorn %.2f%s, generator %.2f' % (
                r['database'], r['gunicorn_workers'], ' '.join(extra) or SERVER_CLASS,
                r['updates_per_second'], r['accepted']['p50_ms'], r['accepted']['p99_ms'],
                r['counts'].get('stale_round', 0) + r['counts'].get('stale_base', 0),
                r['errors'], '' if r['counts_agree'] else ' (server counts DISAGREE)',
                c['gunicorn'],
                '' if c['postgres'] is None else ', PostgreSQL %.2f' % c['postgres'],
                c['load_generator']))


def trials(folder, runs=None):
    """Short runs of ``runs`` (default TRIALS, the worker counts and classes that chose
    WORKERS): ``(database, workers, gunicorn arguments, server environment)`` each."""
    lines = []
    pg = None
    runs = [t + ({},) for t in TRIALS] if runs is None else runs
    try:
        for i, (database, workers, extra, switches) in enumerate(runs):
            label = ' '.join(extra) or SERVER_CLASS
            if switches:
                label += ', ' + ' '.join('%s=%s' % kv for kv in sorted(switches.items()))
            print('  trial %s %d %s' % (database, workers, label), flush=True)
            if database == 'sqlite':
                env, pid = {'DATABASE_PATH': os.path.join(folder, 'trial%d.sqlite3' % i)}, None
            else:
                if pg is None:
                    pg, _, pid = start_postgres()
                env = {'DATABASE_URL': pg.create_database('trial%d' % i)}
            result = load_run(dict(env, **switches), folder, database, workers, TRIAL_SECONDS,
                              pid, extra)
            lines.append(_line(result, (label,)))
    finally:
        if pg is not None:
            pg.stop()
    return lines


def _load_results():
    return load_results('fl_load')


def _save(results):
    save_results('fl_load', results, markdown(results))


def run(argv=None):
    """Load runs on SQLite and PostgreSQL, then the in-process profile; writes the results.

    ``--trials`` instead runs the short configuration trials and adds them to the saved
    results (after a default run); ``--switches`` likewise runs the server with group commit
    and the SQLite write lock on and off.
    """
    parser = argparse.ArgumentParser(prog='bench fl_load')
    parser.add_argument('--seconds', type=float, default=SECONDS)
    parser.add_argument('--workers', type=int, default=WORKERS)
    parser.add_argument('--databases', default='sqlite,postgresql')
    parser.add_argument('--trials', action='store_true')
    parser.add_argument('--switches', action='store_true')
    args = parser.parse_args(argv or [])
    previous = _load_results()
    if args.trials or args.switches:
        if previous is None:
            raise RuntimeError('run `python -m bench fl_load` first')
        with tempfile.TemporaryDirectory(prefix='fl-load-') as folder:
            if args.trials:
                previous['tried'] = trials(folder)
            if args.switches:
                previous['switches'] = trials(folder, [(database, WORKERS, (), switches)
                                                       for database, switches in SWITCHES])
        _save(previous)
        return previous
    load = os.getloadavg()
    start = time.perf_counter()
    runs, profiles = [], []
    with tempfile.TemporaryDirectory(prefix='fl-load-') as folder:
        fsync = fsync_ms(folder)
        for database in args.databases.split(','):
            print('  %s, %d workers, %.0f s ...' % (database, args.workers, args.seconds),
                  flush=True)
            if database == 'sqlite':
                env = {'DATABASE_PATH': os.path.join(folder, 'load.sqlite3')}
                runs.append(load_run(env, folder, 'sqlite', args.workers, args.seconds))
                config = {'DATABASE_PATH': os.path.join(folder, 'p.sqlite3')}
                profiles.append(dict(profile(config, MIN_UPDATES), database='sqlite'))
            elif database == 'postgresql':
                pg, url, pid = start_postgres()
                try:
                    runs.append(load_run({'DATABASE_URL': url}, folder, 'postgresql',
                                         args.workers, args.seconds, postgres_pid=pid))
                    from tests.support.postgres import migrated
                    config = {'DATABASE_URL': migrated(pg.create_database('fl_prof'))}
                    profiles.append(dict(profile(config, MIN_UPDATES), database='postgresql'))
                finally:
                    pg.stop()
            else:
                raise ValueError('unknown database %r; allowed: sqlite, postgresql' % database)
    results = {
        'settings': {
            'description': '%d client threads, %d registered clients, MIN_UPDATES %d, '
                           'gunicorn %d %s workers, %.0f s a database, default federation '
                           '(3 x 384), %d CPUs, loopback; the load generator runs on the same '
                           'machine' % (CLIENTS, CLIENTS * IDS_PER_CLIENT, MIN_UPDATES,
                                        args.workers, SERVER_CLASS, args.seconds,
                                        os.cpu_count()),
            'clients': CLIENTS, 'registered': CLIENTS * IDS_PER_CLIENT,
            'min_updates': MIN_UPDATES, 'workers': args.workers, 'seconds': args.seconds},
        'runs': runs, 'profiles': profiles, 'fsync_ms': fsync,
        'seconds': time.perf_counter() - start,
        'load_average': '%.1f / %.1f' % (load[0], os.getloadavg()[0]),
        'versions': {'python': platform.python_version()}}
    for key in ('tried', 'tried_with', 'switches'):   # from the last --trials, --switches
        if previous and previous.get(key):
            results[key] = previous[key]
    _save(results)
    for r in runs:
        print('  ' + _line(r))
    return results


if __name__ == '__main__':
    run(sys.argv[1:])
