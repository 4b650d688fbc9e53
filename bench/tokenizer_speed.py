"""Tokenizer speed: tokens per second on the whole tokenizer corpus (tests/fixtures).

- ours: this product's ``tinybert_core.tokenizer`` (the module the page ships, transpiled), on the
  bench page's main thread in headless Chromium, single thread; warm (one Tokenizer, word
  cache filled) and cold (a fresh Tokenizer, empty word cache, per pass; building the
  Tokenizer is timed apart);
- transformers.js ``AutoTokenizer.from_pretrained`` + ``encode(text)`` on the same page and
  texts, from the same tokenizer.json served locally;
- native Hugging Face ``tokenizers`` (Python binding, Rust): a single-thread loop of
  ``encode`` (the floor) and ``encode_batch`` (parallel, for information).

No truncation anywhere (transformers.js ``encode`` never truncates; ours is built with
max_length None; the native tokenizer has truncation and padding switched off). Each
implementation warms up by time, then the median of the timed passes is reported; tokens/s
counts each implementation's own output ([CLS] and [SEP] included).

Writes bench/results/tokenizer_speed.json and .md. ``python -m bench tokenizer_speed``.
"""
import argparse
import json
import os
import platform
import statistics
import time

from bench import browser as B
from bench import save_results

CORPUS = os.path.join(B.REPO, 'tests', 'fixtures', 'tokenizer_corpus.jsonl')
CHUNK = 2000
# Transcrypt runtime functions that a hot loop can reach: isinstance (throws and catches a
# TypeError for a JS string), `in` on a dict (__in__ -> __contains__ -> hasOwnProperty),
# list.append, and method binding (__get__).
RUNTIME_HELPERS = {'isinstance', '__in__', '__contains__', 'Array.append', '__get__', 'issubclass',
                   'py_typeof', 'String.join', '__getslice__', 'String.__getslice__'}


def load_corpus():
    with open(CORPUS, encoding='ascii') as f:
        return [json.loads(line) for line in f if line.strip()]


def hf_view(s):
    """The string as UTF-8 with replacement delivers it: lone surrogates become U+FFFD (the
    Python binding refuses them; our tokenizer reads them as U+FFFD too)."""
    return s.encode('utf-16', 'surrogatepass').decode('utf-16', 'replace')


def native_tokenizer():
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(B.MODEL, 'tokenizer.json'))
    tok.no_truncation()
    tok.no_padding()
    return tok


def _timed_passes(one_pass, warmup_seconds, passes):
    started = time.perf_counter()
    tokens = one_pass()
    first = time.perf_counter() - started
    warm = 1
    while time.perf_counter() - started < warmup_seconds:
        one_pass()
        warm += 1
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        n = one_pass()
        times.append((time.perf_counter() - t0) * 1000.0)
        assert n == tokens
    return {'pass_ms': times, 'tokens': tokens, 'first_pass_ms': first * 1000.0,
            'warmup_passes': warm}


def native(texts, warmup_seconds, passes):
    """HF tokenizers from Python: encode in a loop (1 thread), encode_batch (all cores)."""
    import tokenizers
    tok = native_tokenizer()

    def loop():
        total = 0
        for t in texts:
            total += len(tok.encode(t).ids)
        return total

    def batch():
        return sum(len(e.ids) for e in tok.encode_batch(texts))

    return {'version': tokenizers.__version__,
            'encode': _timed_passes(loop, warmup_seconds, passes),
            'encode_batch': _timed_passes(batch, warmup_seconds, passes),
            'encode_batch_threads': os.environ.get('RAYON_NUM_THREADS') or os.cpu_count()}


def _open_bench_page(browser, url, texts):
    page = browser.page()
    page.goto(url + '/bench.html')
    page.wait_for_function('() => window.bench !== undefined', timeout=B.PAGE_READY_MS)
    page.evaluate('t => window.bench.set_texts(t)', texts)
    return page


def _ids(page, method, n):
    out = []
    for start in range(0, n, CHUNK):
        out.extend(page.evaluate('([m, a, b]) => window.bench[m](a, b)',
                                 [method, start, min(n, start + CHUNK)]))
    return out


def browser_side(texts, warmup_seconds, passes, profile):
    from playwright.sync_api import sync_playwright

    dist = B.build_bench_page()
    out = {}
    with B.Server(dist) as server, sync_playwright() as pw:
        browser = B.Browser(pw, server.url)
        try:
            page = _open_bench_page(browser, server.url, texts)
            out['page'] = page.evaluate('() => window.bench.info()')
            # Each variant on a freshly loaded page, so none inherits another's heap or JIT.
            out['ours_warm'] = page.evaluate('([w, p]) => window.bench.tok_ours(w, p, false)',
                                             [warmup_seconds, passes])
            page = _open_bench_page(browser, server.url, texts)
            out['ours_cold'] = page.evaluate('([w, p]) => window.bench.tok_ours(w, p, true)',
                                             [warmup_seconds, passes])
            page = _open_bench_page(browser, server.url, texts)
            out['tjs'] = page.evaluate('([w, p]) => window.bench.tok_tjs(w, p)',
                                       [warmup_seconds, passes])
            out['ours_ids'] = _ids(page, 'tok_ours_ids', len(texts))
            out['tjs_ids'] = _ids(page, 'tok_tjs_ids', len(texts))
            if profile:
                out['profiles'] = {}
                for name, call in [('ours_warm', 'window.bench.tok_ours(1, 3, false)'),
                                   ('ours_cold', 'window.bench.tok_ours(0, 3, true)'),
                                   ('tjs', 'window.bench.tok_tjs(1, 3)')]:
                    page = _open_bench_page(browser, server.url, texts)
                    prof = B.CpuProfile(browser.context, page)
                    prof.start()
                    page.evaluate('() => ' + call)
                    out['profiles'][name] = prof.stop(18)
            browser.check_network()
            out['requests'] = len(browser.requests)
        finally:
            browser.close()
    return out


def _rate(result):
    median_ms = statistics.median(result['pass_ms'])
    return {'tokens': result['tokens'], 'median_pass_ms': round(median_ms, 1),
            'min_pass_ms': round(min(result['pass_ms']), 1),
            'max_pass_ms': round(max(result['pass_ms']), 1),
            'passes': len(result['pass_ms']),
            'first_pass_ms': round(result['first_pass_ms'], 1),
            'warmup_passes': result['warmup_passes'],
            'tokens_per_s': round(result['tokens'] / (median_ms / 1000.0))}


def _mismatches(a, b):
    return sum(1 for x, y in zip(a, b) if list(x) != list(y)) + abs(len(a) - len(b))


def run(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench tokenizer_speed')
    parser.add_argument('--warmup', type=float, default=3.0, help='warm-up seconds per variant')
    parser.add_argument('--passes', type=int, default=7, help='timed passes per variant')
    parser.add_argument('--no-profile', action='store_true', help='skip the CPU profiles')
    args = parser.parse_args(argv or [])

    started = time.monotonic()
    load_before = os.getloadavg()
    corpus = load_corpus()
    texts_native = [hf_view(t) for t in corpus]
    print('tokenizer_speed: %d texts, %d characters' % (len(corpus), sum(map(len, corpus))),
          flush=True)
    nat = native(texts_native, args.warmup, args.passes)
    print('  native HF tokenizers: %d tokens/s (encode loop)'
          % _rate(nat['encode'])['tokens_per_s'], flush=True)
    web = browser_side(corpus, args.warmup, args.passes, not args.no_profile)

    ref_ids = [e.ids for e in native_tokenizer().encode_batch(texts_native)]
    ours_warm = _rate(web['ours_warm'])
    ours_cold = _rate(web['ours_cold'])
    ours_cold['construct_ms_median'] = round(statistics.median(web['ours_cold']['construct_ms']), 1)
    tjs = _rate(web['tjs'])
    tjs['load_ms'] = round(web['tjs']['load_ms'], 1)
    report = {
        'benchmark': 'tokenizer_speed',
        'date': time.strftime('%Y-%m-%d %H:%M:%S'),
        'corpus': {'file': 'tests/fixtures/tokenizer_corpus.jsonl', 'texts': len(corpus),
                   'characters': sum(map(len, corpus))},
        'truncation': 'none (all three)',
        'method': 'warm-up %.0f s by time, then the median of %d timed passes over the whole '
                  'corpus; tokens/s = own tokens (incl. [CLS]/[SEP]) / median pass time'
                  % (args.warmup, args.passes),
        'environment': {'chromium': B.chromium_version(), 'page': web['page'],
                        'transformers_js': B.package_version('@huggingface/transformers'),
                        'tokenizers_py': nat['version'], 'python': platform.python_version(),
                        'cpu_count': os.cpu_count(),
                        'load_average_before': [round(x, 2) for x in load_before],
                        'load_average_after': [round(x, 2) for x in os.getloadavg()]},
        'results': {
            'ours_warm': ours_warm,
            'ours_cold': ours_cold,
            'transformers_js': tjs,
            'hf_native_encode_loop': _rate(nat['encode']),
            'hf_native_encode_batch': dict(_rate(nat['encode_batch']),
                                           threads=nat['encode_batch_threads']),
        },
        'ratios': {
            'ours_warm_over_transformers_js': round(
                ours_warm['tokens_per_s'] / tjs['tokens_per_s'], 2),
            'ours_cold_over_transformers_js': round(
                ours_cold['tokens_per_s'] / tjs['tokens_per_s'], 2),
            'ours_warm_over_hf_native_loop': round(
                ours_warm['tokens_per_s'] / _rate(nat['encode'])['tokens_per_s'], 2),
        },
        'agreement': {
            'texts_where_ours_differs_from_hf': _mismatches(web['ours_ids'], ref_ids),
            'texts_where_tjs_differs_from_hf': _mismatches(web['tjs_ids'], ref_ids),
            'texts_where_ours_differs_from_tjs': _mismatches(web['ours_ids'], web['tjs_ids']),
            'note': 'HF here is the packaged tokenizer.json, which turns literal "[CLS]" etc. '
                    'in the text into special tokens; ours keeps them as text by design.',
        },
        'profiles': web.get('profiles'),
        'remote_requests': 0,
        'seconds': round(time.monotonic() - started, 1),
    }
    save_results('tokenizer_speed', report, markdown(report))
    print(markdown(report), flush=True)
    return report


def markdown(r):
    res = r['results']
    rows = [('ours, warm (word cache filled)', res['ours_warm']),
            ('ours, cold (fresh Tokenizer per pass)', res['ours_cold']),
            ('transformers.js %s `encode`' % r['environment']['transformers_js'],
             res['transformers_js']),
            ('HF tokenizers %s (Python), `encode` loop' % r['environment']['tokenizers_py'],
             res['hf_native_encode_loop']),
            ('HF tokenizers, `encode_batch` (%s threads, info)'
             % res['hf_native_encode_batch']['threads'], res['hf_native_encode_batch'])]
    lines = ['# Tokenizer speed', '',
             '%d texts, %d characters (the tokenizer test corpus); truncation: %s. %s.'
             % (r['corpus']['texts'], r['corpus']['characters'], r['truncation'], r['method']),
             'Browser rows: %s, headless, main thread of the bench page. Load average '
             'before/after: %s / %s.' % (r['environment']['chromium'],
                                         r['environment']['load_average_before'][0],
                                         r['environment']['load_average_after'][0]), '',
             ]
    env = r['environment']
    if max(env['load_average_before'][0], env['load_average_after'][0]) > 1.5:
        lines += ['**The machine was busy with other work during this run (load average above '
                  '1.5): absolute rates are low and noisy; re-run on an idle machine.**', '']
    lines += ['| implementation | tokens | median pass (ms) | tokens/s |',
             '|---|---:|---:|---:|']
    for name, v in rows:
        lines.append('| %s | %d | %.1f | %s |' % (name, v['tokens'], v['median_pass_ms'],
                                                  '{:,}'.format(v['tokens_per_s'])))
    ratios = r['ratios']
    lines += ['',
              'Ratio ours / transformers.js: warm **%.2f**, cold %.2f (goal >= 1.0). '
              'Ours warm / native HF loop: %.2f.'
              % (ratios['ours_warm_over_transformers_js'], ratios['ours_cold_over_transformers_js'],
                 ratios['ours_warm_over_hf_native_loop']),
              'Building a Tokenizer (tables for 65,536 code points, vocabulary copy): %.1f ms '
              '(median, not in the cold pass time). transformers.js `from_pretrained`: %.1f ms.'
              % (res['ours_cold']['construct_ms_median'], res['transformers_js']['load_ms']),
              'Texts whose ids differ from HF tokenizers: ours %d, transformers.js %d (%s)'
              % (r['agreement']['texts_where_ours_differs_from_hf'],
                 r['agreement']['texts_where_tjs_differs_from_hf'], r['agreement']['note'])]
    if r.get('profiles'):
        lines += ['', '## Where the time goes (CPU profile, self time, main thread)', '']
        for name in ('ours_warm', 'ours_cold'):
            prof = r['profiles'].get(name)
            if prof:
                share = sum(row['share'] for row in prof['top']
                            if row['function'] in RUNTIME_HELPERS)
                lines.append('%s: %.0f%% of the self time is in Transcrypt runtime helpers '
                             '(isinstance, `in` on a dict, append, slicing, join, method binding).'
                             % (name, 100 * share))
        lines.append('')
        for name, prof in r['profiles'].items():
            lines.append('**%s** (%.0f ms profiled):' % (name, prof['total_ms']))
            lines.append('')
            lines.append('| function | where | ms | share |')
            lines.append('|---|---|---:|---:|')
            for row in prof['top'][:10]:
                lines.append('| `%s` | %s | %.1f | %.0f%% |' % (row['function'], row['where'],
                                                             row['ms'], 100 * row['share']))
            lines.append('')
    return '\n'.join(lines) + '\n'


if __name__ == '__main__':
    import sys
    run(sys.argv[1:])
