"""Speed of ``tinybert_core.train.train_head`` as shipped: 5 epochs over 60 cached embeddings
(dim 384, 3 labels), transpiled by Transcrypt, in Node and in headless Chromium.

``python -m bench train_speed`` writes ``bench/results/train_speed.json``; the learning
benchmark includes the same numbers. Reported: the first call in a fresh process or page
(cold JIT: what the first "Train" click costs) and the median / minimum of the next 29.
"""
import functools
import http.server
import json
import os
import platform
import threading

from bench import RESULTS

CHROMIUM = os.environ.get('CHROMIUM', '/usr/bin/chromium')
RUNS = 5   # fresh processes / pages; each does 30 trainings

PAGE = """<!doctype html><meta charset="utf-8"><title>train speed</title>
<script type="module">
import * as train from './tinybert_core.train.js';
import * as head from './tinybert_core.head.js';
%s
try { window.__timing = timeTraining(train, head); }
catch (e) { window.__timing = {error: String(e)}; }
</script>"""


def node():
    """Node timings over RUNS fresh processes (dicts as from the parity test's node_timing)."""
    from tests.parity import test_parity_train
    return [test_parity_train.node_timing() for _ in range(RUNS)]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        return None


def chromium():
    """Chromium timings over RUNS fresh pages, each loading the transpiled trainer."""
    from playwright.sync_api import sync_playwright

    from tests.parity import test_parity_train
    from tests.support.parity import transpile
    js_dir = os.path.dirname(transpile('tinybert_core.train'))
    with open(os.path.join(js_dir, 'train_speed.html'), 'w', encoding='utf-8') as f:
        f.write(PAGE % test_parity_train.TIMING_JS)
    server = http.server.ThreadingHTTPServer(
        ('127.0.0.1', 0), functools.partial(_Quiet, directory=js_dir))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = 'http://127.0.0.1:%d/train_speed.html' % server.server_address[1]
    out = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=['--no-sandbox', '--disable-gpu'])
            out.append({'chromium': browser.version})
            for _ in range(RUNS):
                page = browser.new_page()
                page.goto(url)
                page.wait_for_function('window.__timing !== undefined', timeout=120_000)
                out.append(page.evaluate('window.__timing'))
                page.close()
            browser.close()
    finally:
        server.shutdown()
    version = out.pop(0)['chromium']
    for r in out:
        r['chromium'] = version
    return out


def summary(runs):
    """Median over runs of each measure (or the error)."""
    ok = [r for r in runs if 'first_ms' in r]
    if len(ok) == 0:
        return {'error': runs[0].get('error', 'no run succeeded') if runs else 'no runs'}
    med = lambda key: round(sorted(r[key] for r in ok)[len(ok) // 2], 2)  # noqa: E731
    out = {key: med(key) for key in ('first_ms', 'median_ms', 'min_ms', 'max_warm_ms')}
    out['runs'] = len(ok)
    for key in ('node', 'chromium'):
        if key in ok[0]:
            out[key] = ok[0][key]
    return out


def measure():
    """{'node': summary, 'chromium': summary}; a runtime that cannot run gives {'error'}."""
    result = {}
    for name, fn in (('node', node), ('chromium', chromium)):
        try:
            result[name] = summary(fn())
        except Exception as e:   # a missing runtime must not sink the accuracy benchmark
            result[name] = {'error': '%s: %s' % (type(e).__name__, e)}
    result['machine'] = {'cpus': os.cpu_count(), 'platform': platform.platform(),
                         'load_average_1min': round(os.getloadavg()[0], 2)}
    return result


def run():
    result = measure()
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, 'train_speed.json'), 'w', encoding='utf-8') as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    return result
