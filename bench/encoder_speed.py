"""Encoder speed: latency, start-up and memory of the INT8 sentence encoder in the browser.

Side by side, on the same ONNX file (public/model/encoder.onnx) and the same token ids:

- product: ``window.tinybert.embed(text)`` on the real page (dist/ served by ``python -m fl``):
  tokenizer worker + onnxruntime-web session + mean pooling + L2 normalisation;
- transformers.js: ``pipeline('feature-extraction', <local model>, {dtype: 'q8', device:
  'wasm'})`` with ``{pooling: 'mean', normalize: true}`` (the bench page; its own bundled
  onnxruntime-web and wasm, local files only);
- bare onnxruntime-web: one ``InferenceSession`` (the product's onnxruntime-web build and wasm),
  ``session.run`` on ready-made tensors (the bench page);
- native onnxruntime (Python, CPU provider) with 1 and 2 intra-op threads.

Browser runs use WASM with 2 threads (the page is cross-origin isolated), batch 1, texts that
tokenise to exactly 16, 64, 128 and 256 tokens ([CLS]/[SEP] included). Latency: p50/p90 per
length after >= 10 s of time-based warm-up (cycling through the lengths) and 1 s more at each
length, the implementations measured in alternation so that the machine's load hits them alike.
Start-up: cold (fresh profile: navigation -> first prediction), warm (the same page
reloaded) and warm after a browser restart with the same profile. Memory: the page's renderer
process from /proc: its private (anonymous) memory, sampled every 50 ms, and its peak RSS.
(``performance.measureUserAgentSpecificMemory()`` never answers once onnxruntime-web's WASM
thread workers exist: they sit in Atomics.wait and the measurement waits for them.)

Every timed call gets a text it has not seen before (two words of the vocabulary in front of a
fixed text, same token count): the product caches embeddings by text, and a repeated text
would time the cache.

The bare session also reports session creation time and a short latency probe for each
graphOptimizationLevel (a hint for tuning). Any request that leaves the local server fails the
benchmark. Writes
bench/results/encoder_speed.json and .md. ``python -m bench encoder_speed``.
"""
import argparse
import json
import os
import platform
import time
import urllib.parse

import numpy as np

from bench import browser as B
from bench import save_results

LENGTHS = [16, 64, 128, 256]
GOALS = {'p50_128_vs_transformers_js': 0.7, 'p50_256_ms': 60.0, 'cold_start_ms': 1200.0,
         'warm_visit_ms': 400.0, 'memory_mb': 150.0}
THREADS = 2
LEVELS = ['disabled', 'basic', 'extended', 'all']

PASSAGE = (
    "The quarterly planning meeting moved to Thursday afternoon because the design team is "
    "travelling on Wednesday. Please review the pull request before lunch so that we can "
    "deploy the new parser tonight. The build failed after the last merge, and the stack "
    "trace points at the configuration loader, which reads the settings file twice. I will "
    "be out of the office until Monday with limited access to email, so forward anything "
    "urgent to my colleague. Thanks for sending the invoice; the signed contract is attached "
    "to this message and the payment should arrive by the end of the month. The weather was "
    "lovely, so we had lunch in the park and talked about the hiring plan, the budget review "
    "and the open questions from the customer workshop. Could you schedule a call with the "
    "support engineers next week to go through the incident report and the action items? "
    "The train was delayed by twenty minutes because of the snow, and the standup started "
    "without me. Remember that the subscription renews on the first of the month and that "
    "the old account will be closed after the migration has finished. We refactored the "
    "tokenizer, added unit tests for the edge cases and measured the latency of every stage "
    "on the slowest laptop we could find in the office. "
)

FIRST_TEXT = "Can we move the standup to 10:30 tomorrow?"

# The product page: ready time (ms since navigation) once window.tinybert exists.
READY = """() => window.tinybert !== undefined ? performance.now()
             : (window.tinybertError !== undefined ? -1 : 0)"""
PREDICT = "async t => { await window.tinybert.predict(t); return performance.now(); }"
# The product's own start-up timings and embedding-cache counters, if it reports them.
STATS = "() => window.tinybert.stats ? window.tinybert.stats() : null"
NAVIGATION = """() => { const n = performance.getEntriesByType('navigation')[0];
  return {response_end_ms: n.responseEnd, dom_content_loaded_ms: n.domContentLoadedEventEnd,
          load_ms: n.loadEventEnd}; }"""
EMBED_BATCH = """async texts => { const r = [];
  for (const t of texts) { const s = performance.now(); await window.tinybert.embed(t);
                           r.push(performance.now() - s); }
  return r; }"""


# --- inputs ----------------------------------------------------------------------------------

class Variants:
    """Distinct texts of exactly n tokens: two vocabulary words + a fixed text of n - 2.

    BERT pre-tokenisation splits on whitespace first, so whole-word vocabulary entries add
    exactly one token each, wherever they are.
    """

    def __init__(self, tok, lengths):
        vocab = tok.get_vocab()
        self.words = sorted(w for w in vocab if w.isalpha() and w.isascii() and w.islower()
                            and 3 <= len(w) <= 8 and len(tok.encode(w).ids) == 3)
        self.base = texts_of_lengths(tok, [n - 2 for n in lengths])
        self.lengths = lengths
        self.counter = 0
        for n in lengths:      # spot check
            for t in self.take(n, 5):
                assert len(tok.encode(t).ids) == n, (n, t)

    def take(self, n, count):
        out = []
        w = len(self.words)
        for _ in range(count):
            i = self.counter
            self.counter += 1
            out.append('%s %s %s' % (self.words[i % w], self.words[(i // w + 7 * i) % w],
                                     self.base[n - 2]))
        return out


def texts_of_lengths(tok, lengths):
    """{n: text} with len(tok.encode(text).ids) == n exactly (natural English words)."""
    words = (PASSAGE * 4).split()
    out = {}
    for n in lengths:
        text = ''
        for w in words:
            candidate = (text + ' ' + w).strip()
            count = len(tok.encode(candidate).ids)
            if count <= n:
                text = candidate
            if count >= n:
                break
        while len(tok.encode(text).ids) < n:
            text += ' the'
        ids = tok.encode(text).ids
        if len(ids) != n:
            raise B.BenchError('could not build a text of %d tokens' % n)
        out[n] = text
    return out


def _tokenizer():
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(B.MODEL, 'tokenizer.json'))
    tok.no_truncation()
    tok.no_padding()
    return tok


def _pool(hidden, n):
    h = np.asarray(hidden, dtype=np.float64).reshape(n, -1).mean(axis=0)
    return h / np.linalg.norm(h)


def _cos(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- the latency protocol (shared by every implementation) -----------------------------------

def _stats(samples):
    a = np.asarray(samples)
    return {'p50_ms': round(float(np.percentile(a, 50)), 2),
            'p90_ms': round(float(np.percentile(a, 90)), 2),
            'mean_ms': round(float(a.mean()), 2), 'min_ms': round(float(a.min()), 2),
            'samples': int(a.size)}


def interleaved_latency(impls, lengths, warmup_s, min_samples=30, min_s=2.0, max_s=6.0):
    """Latency of several implementations measured in alternation, so that a change in the
    machine's load hits all of them alike.

    impls: {name: time_batch}, time_batch(n, count) -> durations (ms) of `count` calls at n
    tokens, measured where the calls run. Warm-up: each implementation runs (cycling through
    the lengths) until it has been busy warmup_s seconds, then 1 s more at each length before
    that length's samples. Samples: batches of about 250 ms, round-robin, until each has at
    least min_samples and min_s seconds (on a slow or busy machine: at least 10 samples and
    max_s seconds).
    Returns {name: {'warmup_s': s, '<n>': stats}}.
    """
    names = list(impls)
    est = {(name, n): 50.0 for name in names for n in lengths}
    busy = {name: 0.0 for name in names}
    while min(busy.values()) < warmup_s:
        for name in names:
            if busy[name] >= warmup_s:
                continue
            t0 = time.monotonic()
            for n in lengths:
                est[name, n] = min(impls[name](n, 2))
            busy[name] += time.monotonic() - t0
    out = {name: {'warmup_s': round(busy[name], 1)} for name in names}
    for n in lengths:
        count = {name: max(1, int(250.0 / max(est[name, n], 1.0))) for name in names}
        warm = {name: 0.0 for name in names}
        while min(warm.values()) < 1.0:
            for name in names:
                if warm[name] < 1.0:
                    t0 = time.monotonic()
                    impls[name](n, count[name])
                    warm[name] += time.monotonic() - t0
        samples = {name: [] for name in names}
        spent = {name: 0.0 for name in names}

        def done(name, samples=samples, spent=spent):
            got = len(samples[name])
            return ((got >= min_samples and spent[name] >= min_s)
                    or (got >= 10 and spent[name] >= max_s))

        while not all(done(name) for name in names):
            for name in names:
                if not done(name):
                    t0 = time.monotonic()
                    samples[name].extend(impls[name](n, count[name]))
                    spent[name] += time.monotonic() - t0
        for name in names:
            out[name][str(n)] = _stats(samples[name])
    return out


# --- native onnxruntime -------------------------------------------------------------------

def native_sessions(ids):
    """Native onnxruntime sessions (1 and 2 intra-op threads): {name: time_batch}, info, and
    the pooled embedding of the shared 126-token text (1 thread)."""
    import onnxruntime as ort

    path = os.path.join(B.MODEL, 'encoder.onnx')
    info = {'version': ort.__version__}
    impls = {}
    vector = None
    feeds = {n: {'input_ids': np.asarray([ids[n]], dtype=np.int64),
                 'attention_mask': np.ones((1, len(ids[n])), dtype=np.int64)} for n in ids}
    for threads in (1, 2):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        t0 = time.perf_counter()
        session = ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])
        info['session_create_ms_%d_threads' % threads] = round((time.perf_counter() - t0) * 1000, 1)

        def time_batch(n, count, session=session):
            r = []
            for _ in range(count):
                s = time.perf_counter()
                session.run(None, feeds[n])
                r.append((time.perf_counter() - s) * 1000.0)
            return r

        impls['native_%d' % threads] = time_batch
        if vector is None:
            vector = _pool(session.run(None, feeds[126])[0][0], 126)
    return impls, info, vector


# --- browser runs -----------------------------------------------------------------------------

def _wait_ready(page):
    handle = page.wait_for_function(READY, polling=10, timeout=B.PAGE_READY_MS)
    ready = handle.json_value()
    if ready < 0:
        raise B.BenchError('the product page failed: '
                           + str(page.evaluate('() => window.tinybertError')))
    return ready


def _product_visit(page, url, reload, text):
    if reload:
        page.reload(wait_until='commit')
    else:
        page.goto(url, wait_until='commit')
    ready = _wait_ready(page)
    first = page.evaluate(PREDICT, text)
    return {'ready_ms': round(ready, 1), 'first_prediction_ms': round(first, 1),
            'stats': page.evaluate(STATS), 'navigation': page.evaluate(NAVIGATION),
            'resources': B.resource_timings(page)}


def _interesting(resources):
    """The big or model-related resources (model, wasm, tokenizer, scripts)."""
    keep = []
    for r in resources:
        path = r['path']
        if r['bytes'] >= 100_000 or path.endswith(('.onnx', '.wasm', '.json', '.mjs')):
            keep.append(r)
    return keep


def _bench_page(browser, url, reload=False):
    page = browser.page()
    if reload:
        page.reload(wait_until='commit')
    else:
        page.goto(url + '/bench.html', wait_until='commit')
    page.wait_for_function('() => window.bench !== undefined', polling=10, timeout=B.PAGE_READY_MS)
    return page


class Run:
    """One implementation in its own Chromium: start-up results in ``out``, then
    ``time_batch(n, count)`` for the latency, then ``finish()``."""

    def __init__(self, pw, url, profile=None, keep_profile=False):
        self.url = url
        self.out = {}
        self.browser = B.Browser(pw, url, profile=profile, keep_profile=keep_profile)
        self.page = None

    def finish(self):
        try:
            self.out['vector_126'] = self.vector()
            self.browser.check_network()
            self.browser.memory.mark()
            self.out['memory'] = self.browser.memory.summary()
            self.out['memory']['now'] = self.browser.memory.breakdown()
        finally:
            self.browser.close()
        return self.out


class ProductRun(Run):
    def __init__(self, pw, url, variants, ids):
        Run.__init__(self, pw, url, keep_profile=True)
        self.variants = variants
        page = self.page = self.browser.page()
        self.out['cold'] = _product_visit(page, url + '/', False, FIRST_TEXT + ' (cold)')
        # The memory goal: the renderer at the first prediction (its peak so far, and now).
        self.browser.memory.mark()
        first = self.browser.memory.summary()
        first['now'] = self.browser.memory.breakdown()
        self.out['memory_at_first_prediction'] = first
        self.out['backend'] = page.evaluate('() => window.tinybert.backend()')
        self.out['warm_reload'] = _product_visit(page, url + '/', True, FIRST_TEXT + ' (reload)')
        for n in LENGTHS:
            got = page.evaluate('t => window.tinybert.tokenize(t)', variants.base[n - 2])
            if list(got) != list(ids[n - 2]):
                raise B.BenchError('the product tokenises the %d-token text differently' % (n - 2))
            for t in variants.take(n, 3):
                got = page.evaluate('t => window.tinybert.tokenize(t)', t)
                if len(got) != n:
                    raise B.BenchError('a %d-token text has %d tokens in the product'
                                       % (n, len(got)))

    def time_batch(self, n, count):
        return self.page.evaluate(EMBED_BATCH, self.variants.take(n, count))

    def vector(self):
        self.out['stats_after_latency'] = self.page.evaluate(STATS)
        return self.page.evaluate('async t => Array.from(await window.tinybert.embed(t))',
                                  self.variants.base[126])

    def restart(self, pw):
        """A returning visitor: the browser restarted on the same profile (disk caches only)."""
        profile = self.browser.profile
        browser = B.Browser(pw, self.url, profile=profile)
        try:
            self.out['warm_restart'] = _product_visit(browser.page(), self.url + '/', False,
                                                      FIRST_TEXT + ' (restart)')
            browser.check_network()
        finally:
            browser.close()
            B.remove_profile(profile)


def startup_repeats(pw, url, count):
    """``count`` fresh browsers, one after the other: a cold visit, a pause of 1 s, a reload.

    Returns ``{"cold": [ms...], "warm_reload": [ms...]}`` (navigation start -> first
    prediction); the goals use their medians, single start-ups vary by a few hundred ms.
    """
    out = {'cold': [], 'warm_reload': []}
    for i in range(count):
        browser = B.Browser(pw, url)
        try:
            page = browser.page()
            cold = _product_visit(page, url + '/', False, FIRST_TEXT + ' (cold %d)' % i)
            time.sleep(1.0)
            warm = _product_visit(page, url + '/', True, FIRST_TEXT + ' (reload %d)' % i)
            browser.check_network()
        finally:
            browser.close()
        out['cold'].append(cold['first_prediction_ms'])
        out['warm_reload'].append(warm['first_prediction_ms'])
    return out


class TransformersRun(Run):
    def __init__(self, pw, url, variants):
        Run.__init__(self, pw, url)
        self.variants = variants
        for visit in ('cold', 'warm_reload'):
            page = self.page = _bench_page(self.browser, url, visit == 'warm_reload')
            opened = page.evaluate('n => window.bench.tjs_open(n)', THREADS)
            first = page.evaluate('t => window.bench.tjs_first(t)', FIRST_TEXT + ' ' + visit)
            self.out[visit] = {'import_ms': round(opened['import_ms'], 1),
                               'pipeline_ms': round(opened['pipeline_ms'], 1),
                               'first_run_ms': round(first['first_ms'], 1),
                               'first_prediction_ms': round(first['at_ms'], 1),
                               'resources': _interesting(B.resource_timings(page))}
            self.out['numThreads'] = opened['numThreads']
        for n in LENGTHS:
            for t in [variants.base[n - 2]] + variants.take(n, 3):
                count = self.page.evaluate('t => window.bench.tjs_token_count(t)', t)
                expected = n - 2 if t == variants.base[n - 2] else n
                if count != expected:
                    raise B.BenchError('transformers.js tokenises a %d-token text to %d'
                                       % (expected, count))

    def time_batch(self, n, count):
        return self.page.evaluate('t => window.bench.tjs_time(t)', self.variants.take(n, count))

    def vector(self):
        self.out['requests'] = sorted({urllib.parse.urlsplit(r).path for r in self.browser.requests
                                       if not r.startswith('blob:')})
        first = self.page.evaluate('t => window.bench.tjs_first(t)', self.variants.base[126])
        return first['vector']


class OrtRun(Run):
    def __init__(self, pw, url, ids):
        Run.__init__(self, pw, url)
        self.ids = ids
        self.page = _bench_page(self.browser, url)
        self.browser.memory.mark()
        self.out['blank_page_memory'] = self.browser.memory.summary()
        self.out['blank_page_memory']['now'] = self.browser.memory.breakdown()
        for visit in ('cold', 'warm_reload'):
            if visit == 'warm_reload':
                self.page = _bench_page(self.browser, url, True)
            stages = self.page.evaluate('([n, u]) => window.bench.ort_open(n, u)',
                                        [THREADS, 'model/encoder.onnx'])
            first = self.page.evaluate('ids => window.bench.ort_first(ids)', ids[128])
            stages = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in stages.items()}
            stages['first_run_128_ms'] = round(first['first_ms'], 1)
            stages['first_prediction_ms'] = round(first['at_ms'], 1)
            stages['resources'] = _interesting(B.resource_timings(self.page))
            self.out[visit] = stages
        # Session creation and a short latency probe per graph optimisation level (a hint
        # for tuning; the latency table below is the measurement).
        levels = self.page.evaluate('([l, x, w, r]) => window.bench.ort_levels(l, x, w, r)',
                                    [LEVELS, ids[128], 1500, 15])
        self.out['optimization_levels'] = [
            {'level': x['level'], 'create_ms': round(x['create_ms'], 1),
             'p50_128_ms': round(float(np.percentile(x['run_ms'], 50)), 1)} for x in levels]

    def time_batch(self, n, count):
        return self.page.evaluate('([x, c]) => window.bench.ort_time(x, c)', [self.ids[n], count])

    def vector(self):
        hidden = self.page.evaluate('ids => window.bench.ort_first(ids)', self.ids[126])['hidden']
        return _pool(hidden, 126).tolist()


# --- report -------------------------------------------------------------------------------

def run(argv=None):
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(prog='python -m bench encoder_speed')
    parser.add_argument('--warmup', type=float, default=10.0,
                        help='time-based warm-up per implementation (s, >= 10 for V8)')
    parser.add_argument('--startups', type=int, default=5,
                        help='fresh-browser start-ups (cold, then a reload) behind the goals')
    args = parser.parse_args(argv or [])
    started = time.monotonic()
    load_before = os.getloadavg()

    tok = _tokenizer()
    variants = Variants(tok, LENGTHS)
    # Fixed inputs (bare sessions, checks): the variants' shared text, n - 2 tokens, and texts
    # of exactly n tokens for the sessions that take ids.
    ids = {n: tok.encode(t).ids for n, t in variants.base.items()}
    ids.update({n: tok.encode(variants.take(n, 1)[0]).ids for n in LENGTHS})
    print('encoder_speed: texts of %s tokens' % ', '.join(map(str, LENGTHS)), flush=True)

    native_impls, native_info, native_vec = native_sessions(ids)
    nat = interleaved_latency(native_impls, LENGTHS, min(args.warmup, 3.0))
    nat = {'version': native_info['version'], 'threads_1': nat['native_1'],
           'threads_2': nat['native_2'], 'session_create_ms': native_info}
    print('  native onnxruntime: p50 %s ms (1 thread)' % ' / '.join(
        '%.1f' % nat['threads_1'][str(n)]['p50_ms'] for n in LENGTHS), flush=True)
    dist = B.build_bench_page()
    runs = {}
    with B.Server(B.DIST) as product_server, B.Server(dist) as bench_server, \
            sync_playwright() as pw:
        try:
            # Start-ups one after the other (nothing else running), each in its own browser.
            repeats = startup_repeats(pw, product_server.url, args.startups)
            print('  product start-ups: cold %s ms, warm %s ms' % (
                repeats['cold'], repeats['warm_reload']), flush=True)
            runs['product'] = ProductRun(pw, product_server.url, variants, ids)
            print('  product: cold %.0f ms, warm %.0f ms' % (
                runs['product'].out['cold']['first_prediction_ms'],
                runs['product'].out['warm_reload']['first_prediction_ms']), flush=True)
            runs['transformers_js'] = TransformersRun(pw, bench_server.url, variants)
            runs['bare_ort_web'] = OrtRun(pw, bench_server.url, ids)
            # Latency: the three pages in alternation.
            lat = interleaved_latency({name: r.time_batch for name, r in runs.items()},
                                      LENGTHS, args.warmup)
            results = {}
            for name in list(runs):
                r = runs.pop(name)
                results[name] = r.finish()
                results[name]['latency'] = lat[name]
                if name == 'product':
                    product_server.ensure()
                    r.restart(pw)
                print('  %s: p50 %s ms' % (name, ' / '.join(
                    '%.1f' % lat[name][str(n)]['p50_ms'] for n in LENGTHS)), flush=True)
        finally:
            for r in runs.values():
                r.browser.close()
    prod, tjs, ort = results['product'], results['transformers_js'], results['bare_ort_web']

    agreement = {name: round(_cos(results[name].pop('vector_126'), native_vec), 6)
                 for name in results}
    p50 = {name: {n: r['latency'][str(n)]['p50_ms'] for n in LENGTHS}
           for name, r in (('product', prod), ('transformers_js', tjs), ('bare_ort_web', ort))}
    p50['native_1_thread'] = {n: nat['threads_1'][str(n)]['p50_ms'] for n in LENGTHS}
    p50['native_2_threads'] = {n: nat['threads_2'][str(n)]['p50_ms'] for n in LENGTHS}
    ratios = {
        'product_over_transformers_js': {n: round(p50['product'][n] / p50['transformers_js'][n], 2)
                                         for n in LENGTHS},
        'product_over_bare_ort_web': {n: round(p50['product'][n] / p50['bare_ort_web'][n], 2)
                                      for n in LENGTHS},
        'bare_ort_web_over_native_2_threads': {
            n: round(p50['bare_ort_web'][n] / p50['native_2_threads'][n], 2) for n in LENGTHS},
    }
    measured = {
        'p50_128_vs_transformers_js': ratios['product_over_transformers_js'][128],
        'p50_256_ms': p50['product'][256],
        'cold_start_ms': float(np.median(repeats['cold'])),
        'warm_visit_ms': float(np.median(repeats['warm_reload'])),
        'memory_mb': prod['memory_at_first_prediction'].get('renderer_peak_anon_mb'),
    }
    goals = {name: {'goal': '<= %g' % GOALS[name], 'value': value,
                    'met': value is not None and value <= GOALS[name]}
             for name, value in measured.items()}
    goals['memory_mb']['goal'] += (' (renderer private memory, peak up to the first prediction '
                                   'of a cold visit)')
    report = {
        'benchmark': 'encoder_speed',
        'date': time.strftime('%Y-%m-%d %H:%M:%S'),
        'method': ('batch 1; texts of exactly %s tokens; browser: WASM, %d threads, '
                   'cross-origin isolated, headless Chromium, one browser per implementation; '
                   'p50/p90 after %.0f s of time-based warm-up per implementation plus 1 s per '
                   'length; the implementations measured in alternation (batches of ~250 ms); '
                   'durations measured inside the page (performance.now) around each awaited '
                   'call, each call on a text not seen before'
                   % (LENGTHS, THREADS, args.warmup)),
        'environment': {
            'chromium': B.chromium_version(), 'cpu_count': os.cpu_count(),
            'onnxruntime_web_product': B.package_version('onnxruntime-web'),
            'transformers_js': B.package_version('@huggingface/transformers'),
            'onnxruntime_web_in_transformers_js': B.transformers_ort_version(),
            'onnxruntime_native': nat['version'], 'python': platform.python_version(),
            'load_average_before': [round(x, 2) for x in load_before],
            'load_average_after': [round(x, 2) for x in os.getloadavg()],
        },
        'model_file': _encoder_file(),
        'texts': {str(n): variants.take(n, 1)[0] for n in LENGTHS},
        'p50_ms': {k: {str(n): v for n, v in d.items()} for k, d in p50.items()},
        'ratios': {k: {str(n): v for n, v in d.items()} for k, d in ratios.items()},
        'goals': goals,
        'startups': repeats,
        'product': prod,
        'transformers_js': tjs,
        'bare_ort_web': ort,
        'native': nat,
        'cosine_vs_native_128': agreement,
        'remote_requests': 0,
        'seconds': round(time.monotonic() - started, 1),
    }
    save_results('encoder_speed', report, markdown(report))
    print(markdown(report), flush=True)
    return report


def _encoder_file():
    with open(os.path.join(B.MODEL, 'manifest.json'), encoding='utf-8') as f:
        return json.load(f)['encoder_file']


def _resource(visit, suffix):
    """The biggest resource of a visit whose path ends with suffix (e.g. the model, not a
    small warm-up model), or None."""
    found = [r for r in visit.get('resources', []) if r['path'].endswith(suffix)]
    return max(found, key=lambda r: r['bytes']) if found else None


def markdown(r):
    env = r['environment']
    lat = [('product `tinybert.embed`', r['product']['latency']),
           ('transformers.js %s pipeline' % env['transformers_js'],
            r['transformers_js']['latency']),
           ('bare onnxruntime-web %s session' % env['onnxruntime_web_product'],
            r['bare_ort_web']['latency']),
           ('native onnxruntime %s, 1 thread' % env['onnxruntime_native'],
            r['native']['threads_1']),
           ('native onnxruntime, 2 threads', r['native']['threads_2'])]
    lines = ['# Encoder speed', '', r['method'] + '.', '',
             '%s; load average before/after: %s / %s.' % (env['chromium'],
                                                          env['load_average_before'][0],
                                                          env['load_average_after'][0]), '',
             ]
    if max(env['load_average_before'][0], env['load_average_after'][0]) > 1.5:
        lines += ['**The machine was busy with other work during this run (load average above '
                  '1.5 on %d cores): absolute times are inflated, several-fold for the 2-thread '
                  'runs; the ratios (implementations measured in alternation) hold better. '
                  'Re-run on an idle machine before judging the goals.**' % env['cpu_count'], '']
    lines += ['## Latency, ms (p50 / p90)', '',
             '| implementation | ' + ' | '.join('%d tokens' % n for n in LENGTHS) + ' |',
             '|---|' + '---:|' * len(LENGTHS)]
    for name, d in lat:
        lines.append('| %s | ' % name + ' | '.join(
            '%.1f / %.1f' % (d[str(n)]['p50_ms'], d[str(n)]['p90_ms']) for n in LENGTHS) + ' |')
    ratios = r['ratios']
    lines += ['', '| p50 ratio | ' + ' | '.join(str(n) for n in LENGTHS) + ' |',
              '|---|' + '---:|' * len(LENGTHS)]
    for name, d in ratios.items():
        cells = ' | '.join('%.2f' % d[str(n)] for n in LENGTHS)
        lines.append('| %s | %s |' % (name.replace('_', ' '), cells))

    p, t, o = r['product'], r['transformers_js'], r['bare_ort_web']
    rep = r['startups']
    lines += ['', '## Start-up, ms since navigation start → first prediction', '',
              'Product, %d fresh browsers one after the other (cold visit, 1 s pause, reload): '
              'cold %s (median %.0f); warm reload %s (median %.0f). The goals use these '
              'medians; the table below is one further start-up of each implementation.' % (
                  len(rep['cold']), ', '.join('%.0f' % x for x in rep['cold']),
                  float(np.median(rep['cold'])),
                  ', '.join('%.0f' % x for x in rep['warm_reload']),
                  float(np.median(rep['warm_reload']))), '',
              '| | cold (fresh profile) | warm (reload) | warm (browser restarted, same profile) |',
              '|---|---:|---:|---:|',
              '| product (ready / first prediction) | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f |' % (
                  p['cold']['ready_ms'], p['cold']['first_prediction_ms'],
                  p['warm_reload']['ready_ms'], p['warm_reload']['first_prediction_ms'],
                  p['warm_restart']['ready_ms'], p['warm_restart']['first_prediction_ms']),
              '| transformers.js (first embedding) | %.0f | %.0f | |' % (
                  t['cold']['first_prediction_ms'], t['warm_reload']['first_prediction_ms']),
              '| bare onnxruntime-web (first run) | %.0f | %.0f | |' % (
                  o['cold']['first_prediction_ms'], o['warm_reload']['first_prediction_ms']),
              '']
    for visit in ('cold', 'warm_reload'):
        s = o[visit]
        lines.append('Bare onnxruntime-web stages, %s: import %.0f ms, model fetch %.0f ms, first '
                     'InferenceSession.create %.0f ms (a second one on the same bytes: %.0f ms), '
                     'first run at 128 tokens %.0f ms.' % (
                         visit.replace('_', ' '), s['import_ms'], s['fetch_model_ms'],
                         s['create_ms'],
                         s['create_again_ms'], s['first_run_128_ms']))
    if o.get('optimization_levels'):
        lines.append('Bare onnxruntime-web, per graphOptimizationLevel (create ms / p50 at 128 '
                     'tokens after a 1.5 s warm-up, 15 runs): ' + '; '.join(
                         '%s %.0f / %.1f' % (x['level'], x['create_ms'], x['p50_128_ms'])
                         for x in o['optimization_levels']) + '.')
    for visit in ('cold', 'warm_reload', 'warm_restart'):
        v = p[visit]
        parts = []
        model = '/' + r.get('model_file', 'encoder.onnx')
        for suffix, label in ((model, 'model'), ('.wasm', 'wasm'),
                              ('tokenizer.json', 'tokenizer.json')):
            res = _resource(v, suffix)
            if res:
                parts.append('%s %.0f→%.0f ms (%s bytes over the network)' % (
                    label, res['start_ms'], res['end_ms'], '{:,}'.format(res['transfer_bytes'])))
        own = ((v.get('stats') or {}).get('timings')) or {}
        if own:
            parts.append('the page reports: model from %s in %.0f ms, then the session in '
                         '%.0f ms' % (own.get('model_source'), own.get('model_ms', 0),
                                      own.get('session_ms', 0)))
        nav = v.get('navigation') or {}
        first_fetch = min([x['start_ms'] for x in v.get('resources', []) if '/model/' in x['path']]
                          or [0])
        lines.append('Product %s: page shell loaded (DOMContentLoaded) at %.0f ms, first model-'
                     'folder request at %.0f ms; %s; ready at %.0f ms, first prediction at %.0f ms.'
                     % (visit.replace('_', ' '), nav.get('dom_content_loaded_ms', 0), first_fetch,
                        '; '.join(parts) or 'no model/wasm fetch seen', v['ready_ms'],
                        v['first_prediction_ms']))
    lines += ['', '## Memory, MB', '',
              '| | renderer private memory (peak, sampled) | renderer peak RSS (VmHWM) | '
              'largest private mappings at the end |',
              '|---|---:|---:|---|']
    for name, d in (('product', p), ('transformers.js', t), ('bare onnxruntime-web', o)):
        m = d['memory']
        now = m.get('now') or {}
        lines.append('| %s | %s | %s | %s |' % (name, m.get('renderer_peak_anon_mb'),
                                                m.get('renderer_peak_rss_mb'),
                                                ', '.join(str(x) for x in
                                                          now.get('largest_anonymous_mb', []))))
    blank = o['blank_page_memory']
    first = p.get('memory_at_first_prediction') or {}
    now = first.get('now') or {}
    lines += ['', 'Product at its first prediction (a cold visit; the goal): renderer private '
              'memory peak %s MB, %s MB then; largest private mappings %s MB.' % (
                  first.get('renderer_peak_anon_mb'), now.get('anonymous_mb'),
                  ', '.join(str(x) for x in now.get('largest_anonymous_mb', [])))]
    backend = p.get('backend') or {}
    if backend:
        lines += ['Product backend: %s, %s (%s).' % (backend.get('name'), backend.get('model'),
                                                     backend.get('note'))]
    lines += ['', 'A blank bench page for scale: renderer private %s MB, peak RSS %s MB '
              '(RSS counts the Chromium binary shared with every renderer).' % (
                  blank.get('renderer_peak_anon_mb'), blank.get('renderer_peak_rss_mb')),
              '', '## Goals', '', '| goal | target | measured | met |', '|---|---|---:|---|']
    for name, g in r['goals'].items():
        met = 'yes' if g['met'] else 'no'
        lines.append('| %s | %s | %s | %s |' % (name, g['goal'], g['value'], met))
    lines += ['', 'Cosine of one embedding (a 126-token text) vs native onnxruntime: ' + ', '.join(
        '%s %.6f' % kv for kv in r['cosine_vs_native_128'].items()) + '.',
        'No request left the local server (checked on every page).']
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    import sys
    run(sys.argv[1:])
