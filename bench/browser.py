"""Harness for the browser benchmarks: build the bench page, serve it, drive Chromium.

- ``build_bench_page()`` transpiles ``bench/page/bench_page.py`` (Transcrypt; it imports the
  core from ``src_py/``) into ``.cache/bench-build`` and bundles ``bench/page/bench.html`` with
  ``vite build --mode bench`` into ``.cache/bench-dist`` (never into dist/). The bench page is
  no part of the product's sources: editing it never rebuilds the product. transformers.js
  gets a local model folder there,
  ``tjs-models/minilm/{config.json, tokenizer.json, tokenizer_config.json,
  onnx/model_quantized.onnx}``, made of links to the product's files in ``public/model``.
- ``Server`` runs ``python -m fl`` (the product's server: cross-origin isolation headers, no
  on-the-fly compression) on a free port for a given folder.
- ``Browser`` launches Debian's Chromium through Playwright with a fresh (or a kept) profile,
  logs every request (any request that leaves 127.0.0.1 fails the benchmark; remote host
  names do not even resolve) and samples the memory of Chromium's processes from /proc.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH_BUILD = os.path.join(REPO, '.cache', 'bench-build')
BENCH_DIST = os.path.join(REPO, '.cache', 'bench-dist')
BENCH_PAGE = os.path.join(REPO, 'bench', 'page')
CORE = os.path.join(REPO, 'src_py', 'tinybert_core')
WORK = os.path.join(REPO, '.cache', 'bench')
DIST = os.path.join(REPO, 'dist')
MODEL = os.path.join(REPO, 'public', 'model')
CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
TJS_MODEL = 'minilm'
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    # Nothing may be downloaded: every host name except the local server fails to resolve.
    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
]
PAGE_READY_MS = 120_000


class BenchError(RuntimeError):
    pass


# --- building the bench page -------------------------------------------------------------------

def _newest_mtime(paths):
    newest = 0.0
    for path in paths:
        if os.path.isdir(path):
            for root, _, files in os.walk(path):
                for name in files:
                    newest = max(newest, os.path.getmtime(os.path.join(root, name)))
        elif os.path.exists(path):
            newest = max(newest, os.path.getmtime(path))
    return newest


def _run(cmd, cwd, what):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BenchError('%s failed (exit %d):\n%s%s' % (what, proc.returncode, proc.stdout[-4000:],
                                                       proc.stderr[-4000:]))
    return proc


def _tjs_model_folder(dist):
    """transformers.js's local layout, linking the product's own files (same bytes)."""
    folder = os.path.join(dist, 'tjs-models', TJS_MODEL)
    links = {
        'config.json': 'config.json',
        'tokenizer.json': 'tokenizer.json',
        'tokenizer_config.json': 'tokenizer_config.json',
        'special_tokens_map.json': 'special_tokens_map.json',
        os.path.join('onnx', 'model_quantized.onnx'): 'encoder.onnx',
    }
    for target, source in links.items():
        path = os.path.join(folder, target)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.lexists(path):
            os.remove(path)
        os.symlink(os.path.join(MODEL, source), path)


def build_bench_page(force=False):
    """Transpile and bundle the bench page if its inputs changed; return its folder."""
    if not os.path.isdir(os.path.join(REPO, 'node_modules', '@huggingface', 'transformers')):
        raise BenchError('@huggingface/transformers is not installed: run '
                         '`npm ci --ignore-scripts` (its onnxruntime-node install script '
                         'downloads and fails here; the browser does not need it)')
    if not os.path.exists(os.path.join(MODEL, 'manifest.json')):
        raise BenchError('public/model is missing: run `make build` first')
    stamp = os.path.join(BENCH_DIST, '.built')
    inputs = [BENCH_PAGE, CORE, os.path.join(REPO, 'vite.config.js'),
              os.path.join(REPO, 'package-lock.json'), os.path.join(REPO, 'public')]
    if force or not os.path.exists(stamp) or os.path.getmtime(stamp) < _newest_mtime(inputs):
        started = time.monotonic()
        shutil.rmtree(BENCH_BUILD, ignore_errors=True)
        transcrypt = os.path.join(os.path.dirname(sys.executable), 'transcrypt')
        # -od is relative to the entry's folder; the core is found through -xp.
        _run([transcrypt, '-m', '-n', '-xp', os.path.join(REPO, 'src_py'),
              '-od', os.path.relpath(BENCH_BUILD, BENCH_PAGE), 'bench_page.py'], BENCH_PAGE,
             'Transcrypt (bench/page/bench_page.py)')
        _run(['npx', 'vite', 'build', '--mode', 'bench', '--logLevel', 'warn'], REPO,
             'vite build --mode bench')
        # Vite keeps the page's folder under the output; the harness opens /bench.html, and the
        # product's server serves a folder only if it has an index.html.
        built = os.path.join(BENCH_DIST, 'bench', 'page', 'bench.html')
        os.replace(built, os.path.join(BENCH_DIST, 'bench.html'))
        shutil.rmtree(os.path.join(BENCH_DIST, 'bench'))
        shutil.copyfile(os.path.join(BENCH_DIST, 'bench.html'),
                        os.path.join(BENCH_DIST, 'index.html'))
        _tjs_model_folder(BENCH_DIST)
        with open(stamp, 'w') as f:
            f.write('%.1f s\n' % (time.monotonic() - started))
    return BENCH_DIST


def package_version(name):
    """Version of an installed npm package (None if absent)."""
    path = os.path.join(REPO, 'node_modules', *name.split('/'), 'package.json')
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)['version']
    except OSError:
        return None


def transformers_ort_version():
    """The onnxruntime-web version transformers.js imports (its own, nested if it differs)."""
    nested = os.path.join(REPO, 'node_modules', '@huggingface', 'transformers', 'node_modules',
                          'onnxruntime-web', 'package.json')
    if os.path.exists(nested):
        with open(nested, encoding='utf-8') as f:
            return json.load(f)['version']
    return package_version('onnxruntime-web')


# --- the server ----------------------------------------------------------------------------------

def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Server:
    """``python -m fl`` serving ``dist_dir`` on a free loopback port (its database in .cache)."""

    def __init__(self, dist_dir):
        if not os.path.exists(os.path.join(dist_dir, 'index.html')):
            raise BenchError('%s/index.html is missing: run `make build`'
                             % os.path.relpath(dist_dir, REPO))
        os.makedirs(WORK, exist_ok=True)
        self.dist_dir = dist_dir
        self.port = _free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self._start()

    def ensure(self):
        """Restart the server on the same port (same origin, so the browser's caches for it
        still apply) if its process has gone."""
        if self.process.poll() is not None:
            self._start()

    def _start(self):
        env = dict(os.environ, PORT=str(self.port), DIST_DIR=self.dist_dir,
                   DATABASE_PATH=os.path.join(WORK, 'fl-bench.sqlite3'))
        env.pop('DATABASE_URL', None)
        # The request log goes to a file: an unread pipe would fill up and stall the server.
        self.log = os.path.join(WORK, 'server-%d.log' % self.port)
        with open(self.log, 'ab') as log:
            self.process = subprocess.Popen([sys.executable, '-m', 'fl'], cwd=REPO, env=env,
                                            stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                with open(self.log, encoding='utf-8', errors='replace') as f:
                    raise BenchError('server exited: ' + f.read()[-2000:])
            try:
                with urllib.request.urlopen(self.url + '/api/health', timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise BenchError('the server did not answer /api/health in 30 s')

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if os.path.exists(self.log):
            os.remove(self.log)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --- memory of Chromium's processes -----------------------------------------------------------

def _read(path):
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError:
        return b''


def _status_kb(pid):
    out = {}
    for line in _read('/proc/%d/status' % pid).decode('ascii', 'replace').splitlines():
        key, _, value = line.partition(':')
        if key in ('VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'RssShmem'):
            out[key] = int(value.split()[0])
    return out


def _process_table():
    """{pid: (ppid, cmdline list)} for every process."""
    table = {}
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        pid = int(name)
        stat = _read('/proc/%d/stat' % pid).decode('ascii', 'replace')
        if not stat:
            continue
        ppid = int(stat.rsplit(')', 1)[1].split()[1])
        # Chromium rewrites its children's command lines as one space-separated string.
        raw = _read('/proc/%d/cmdline' % pid).replace(b'\0', b' ')
        cmd = raw.decode('utf-8', 'replace').split()
        table[pid] = (ppid, cmd)
    return table


def _process_kind(cmd):
    for arg in cmd:
        if arg.startswith('--type='):
            kind = arg[len('--type='):]
            if kind == 'utility':
                for a in cmd:
                    if a.startswith('--utility-sub-type='):
                        return 'utility:' + a.split('=', 1)[1].rsplit('.', 1)[-1]
            return kind
    return 'browser'


class MemorySampler:
    """Samples /proc for the Chromium started with ``profile`` every ``interval`` seconds.

    Per process it keeps the peak of the sampled VmRSS and RssAnon (private anonymous memory:
    JS heaps, wasm memory, JIT code) and the kernel's own peak RSS (VmHWM). Renderer processes
    run the page, its workers and onnxruntime-web's WASM threads.
    """

    def __init__(self, profile, interval=0.05):
        self.profile = profile
        self.interval = interval
        self.peaks = {}       # pid -> {'kind', 'rss', 'anon', 'hwm'} in kB
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._pids = {}
        self._last_scan = 0.0

    def start(self):
        self._thread.start()
        return self

    def _scan(self):
        table = _process_table()
        roots = [pid for pid, (_, cmd) in table.items()
                 if any(a == '--user-data-dir=' + self.profile for a in cmd)
                 and _process_kind(cmd) == 'browser']
        found = {}
        frontier = list(roots)
        while frontier:
            pid = frontier.pop()
            if pid in found or pid not in table:
                continue
            found[pid] = _process_kind(table[pid][1])
            frontier.extend(p for p, (pp, _) in table.items() if pp == pid)
        self._pids = found
        self._last_scan = time.monotonic()

    def _sample(self):
        for pid, kind in list(self._pids.items()):
            s = _status_kb(pid)
            if not s:
                continue
            peak = self.peaks.setdefault(pid, {'kind': kind, 'rss': 0, 'anon': 0, 'hwm': 0})
            # A process forked from the zygote shows the zygote's command line until it
            # renames itself: keep the latest kind.
            peak['kind'] = kind
            peak['rss'] = max(peak['rss'], s.get('VmRSS', 0))
            peak['anon'] = max(peak['anon'], s.get('RssAnon', 0))
            peak['hwm'] = max(peak['hwm'], s.get('VmHWM', 0))

    def _loop(self):
        while not self._stop.is_set():
            if time.monotonic() - self._last_scan > 0.5:
                self._scan()
            self._sample()
            self._stop.wait(self.interval)

    def mark(self):
        """Take one sample now (e.g. right before the browser closes)."""
        self._scan()
        self._sample()

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def reset(self):
        self.peaks = {}

    def page_renderer(self):
        renderers = [(pid, p) for pid, p in self.peaks.items() if p['kind'] == 'renderer']
        return max(renderers, key=lambda item: item[1]['anon'])[0] if renderers else None

    def breakdown(self):
        """The page renderer's resident memory now (MB), from /proc/<pid>/smaps.

        anonymous: private memory (JS heaps, the wasm linear memory, compiled wasm and JS
        code, Blink, malloc); largest_anonymous: its biggest mappings (a wasm linear memory is
        one mapping and never shrinks); file_backed: the Chromium binary and libraries.
        """
        pid = self.page_renderer()
        text = _read('/proc/%d/smaps' % pid).decode('ascii', 'replace') if pid else ''
        if not text:
            return None
        anon = []
        files = 0
        current = None
        for line in text.splitlines():
            head = line.split()
            if not head:
                continue
            if '-' in head[0] and not head[0].endswith(':'):
                path = head[5] if len(head) > 5 else ''
                current = path == '' or path.startswith('[anon') or path in ('[heap]', '[stack]')
            elif head[0] == 'Rss:':
                kb = int(head[1])
                if current:
                    anon.append(kb)
                else:
                    files += kb
        anon.sort(reverse=True)
        mb = 1024.0
        return {'anonymous_mb': round(sum(anon) / mb, 1),
                'largest_anonymous_mb': [round(kb / mb, 1) for kb in anon[:5]],
                'file_backed_mb': round(files / mb, 1)}

    def summary(self):
        """Peaks in MB: the page's renderer and all processes together.

        renderer_peak_anon_mb (private anonymous memory, sampled) is the page's own memory;
        renderer_peak_rss_mb (the kernel's VmHWM) also counts the Chromium binary and shared
        libraries inherited from the zygote (about 70 MB before the page does anything).
        """
        renderers = [p for p in self.peaks.values() if p['kind'] == 'renderer']
        # The page's renderer is the one whose private memory grew most (Chromium also keeps
        # a spare renderer and one for its own UI; all inherit the zygote's shared pages).
        page = max(renderers, key=lambda p: p['anon']) if renderers else None
        mb = 1024.0
        out = {'processes': sorted(['%s %.0f MB' % (p['kind'], p['hwm'] / mb)
                                    for p in self.peaks.values()])}
        if page is not None:
            out['renderer_peak_rss_mb'] = round(page['hwm'] / mb, 1)
            out['renderer_peak_rss_sampled_mb'] = round(page['rss'] / mb, 1)
            out['renderer_peak_anon_mb'] = round(page['anon'] / mb, 1)
        out['all_processes_peak_rss_sum_mb'] = round(
            sum(p['hwm'] for p in self.peaks.values()) / mb, 1)
        return out


# --- Chromium ----------------------------------------------------------------------------------

class Browser:
    """Chromium (Playwright, persistent profile) with a request log and a memory sampler.

    profile: a folder to reuse (a "returning visitor"), or None for a fresh one that is deleted
    on close. ``allowed_origin`` is the local server; any other http(s) request is recorded in
    ``remote_requests`` and ``check_network()`` raises.
    """

    def __init__(self, playwright, allowed_origin, profile=None, keep_profile=False):
        if not os.path.exists(CHROMIUM):
            raise BenchError('%s is missing: `make chromium` installs Debian\'s chromium'
                             % CHROMIUM)
        os.makedirs(os.path.join(WORK, 'profiles'), exist_ok=True)
        self.fresh = profile is None
        self.profile = profile or tempfile.mkdtemp(prefix='profile-',
                                                   dir=os.path.join(WORK, 'profiles'))
        self.keep_profile = keep_profile
        self.allowed = urllib.parse.urlsplit(allowed_origin).netloc
        self.requests = []
        self.remote_requests = []
        self.failed_requests = []
        self.memory = MemorySampler(self.profile).start()
        self.context = playwright.chromium.launch_persistent_context(
            self.profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        self.context.on('request', self._on_request)
        self.context.on('requestfailed', self._on_failed)

    def _on_request(self, request):
        parts = urllib.parse.urlsplit(request.url)
        self.requests.append(request.url)
        if parts.scheme in ('http', 'https', 'ws', 'wss') and parts.netloc != self.allowed:
            self.remote_requests.append(request.url)

    def _on_failed(self, request):
        self.failed_requests.append(request.url)

    def page(self):
        pages = self.context.pages
        return pages[0] if pages else self.context.new_page()

    def check_network(self):
        if self.remote_requests:
            raise BenchError('remote requests were made (nothing may be downloaded): '
                             + ', '.join(self.remote_requests[:5]))

    def close(self):
        try:
            self.memory.mark()
        finally:
            self.memory.stop()
            self.context.close()
            if not self.keep_profile:
                shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def chromium_version():
    proc = subprocess.run([CHROMIUM, '--version'], capture_output=True, text=True)
    return proc.stdout.strip() or None


def remove_profile(path):
    shutil.rmtree(path, ignore_errors=True)


def resource_timings(page):
    """The page's resource timing entries: name (path), start, end (ms), bytes."""
    entries = page.evaluate(
        """() => performance.getEntriesByType('resource').map(e => [e.name, e.startTime,
              e.responseEnd, e.transferSize, e.decodedBodySize])""")
    out = []
    for name, start, end, transfer, size in entries:
        out.append({'path': urllib.parse.urlsplit(name).path, 'start_ms': round(start, 1),
                    'end_ms': round(end, 1), 'transfer_bytes': transfer, 'bytes': size})
    return out


# --- CPU profiles (Chrome DevTools Protocol) -----------------------------------------------

class CpuProfile:
    """Sampling CPU profile of a page's main thread around a block of work."""

    def __init__(self, context, page, interval_us=200):
        self.cdp = context.new_cdp_session(page)
        self.cdp.send('Profiler.enable')
        self.cdp.send('Profiler.setSamplingInterval', {'interval': interval_us})

    def start(self):
        self.cdp.send('Profiler.start')

    def stop(self, top=15):
        """Self time per function, biggest first: [{'function', 'where', 'ms', 'share'}]."""
        profile = self.cdp.send('Profiler.stop')['profile']
        self.cdp.send('Profiler.disable')
        nodes = {n['id']: n for n in profile['nodes']}
        self_us = {}
        samples = profile.get('samples', [])
        deltas = profile.get('timeDeltas', [])
        for i, node_id in enumerate(samples):
            dt = deltas[i + 1] if i + 1 < len(deltas) else 0
            self_us[node_id] = self_us.get(node_id, 0) + dt
        by_function = {}
        for node_id, us in self_us.items():
            frame = nodes[node_id]['callFrame']
            url = urllib.parse.urlsplit(frame.get('url', '')).path.rsplit('/', 1)[-1]
            name = frame.get('functionName') or '(anonymous)'
            key = (name, url, frame.get('lineNumber', -1) + 1 if url else 0)
            by_function[key] = by_function.get(key, 0) + us
        total = sum(by_function.values()) or 1
        rows = sorted(by_function.items(), key=lambda kv: -kv[1])[:top]
        return {'total_ms': round(total / 1000.0, 1),
                'top': [{'function': k[0], 'where': '%s:%d' % (k[1], k[2]) if k[1] else '',
                         'ms': round(v / 1000.0, 1), 'share': round(v / total, 3)}
                        for k, v in rows]}
