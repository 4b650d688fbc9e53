"""Which INT8 encoder file runs fastest in the browser: ``python -m bench model_variants``.

The model build can quantise the same fp32 export four ways: with the graph as exported or
fused by onnxruntime's BERT optimizer (Attention, SkipLayerNormalization, BiasGelu,
EmbedLayerNormalization), and with signed (QInt8) or unsigned (QUInt8) weights, always per
output channel. Native x86 onnxruntime prefers signed weights (VNNI/AVX2 kernels), but the page
runs onnxruntime-web's WebAssembly kernels, so the choice is measured where it matters.

Per variant (built into .cache/model-variants from the build's fp32 export):
- accuracy: cosine of the sentence embedding vs fp32 on the build's 30 self-check sentences;
- browser: one bare onnxruntime-web session per variant in the same page (the product's
  onnxruntime-web build, WASM, 2 threads, graphOptimizationLevel "all"), session creation
  time, then p50/p90 at 128 and 256 tokens. The sessions are timed in alternation (a few runs
  each in turn) after 12 s of warm-up, so that the machine's load hits them alike; ratios
  against the shipped recipe are the result.

Writes bench/results/model_variants.{json,md}.
"""
import argparse
import os
import platform
import random
import time
from pathlib import Path

import numpy as np

from bench import REPO, save_results
from bench import browser as B

CACHE = Path(REPO) / '.cache' / 'model-variants'
FP32 = Path(REPO) / '.cache' / 'model' / 'encoder.fp32.onnx'
VARIANTS = [
    # key, fused graph, weight type
    ('unfused_s8', False, 'QInt8'),
    ('unfused_u8', False, 'QUInt8'),
    ('fused_s8', True, 'QInt8'),
    ('fused_u8', True, 'QUInt8'),
]
LENGTHS = (128, 256)
THREADS = 2


def _tools():
    from tools import model_check, model_export
    return model_check, model_export


def build_variants():
    """The four files and their cosines vs fp32; reuses files already built from this fp32."""
    model_check, model_export = _tools()
    if not FP32.exists():
        raise B.BenchError('%s is missing: run `make model` first' % FP32)
    CACHE.mkdir(parents=True, exist_ok=True)
    src, _ = model_export.locate_package()
    facts = model_export.read_model_facts(src)
    fused = CACHE / 'fused.fp32.onnx'
    stamp = CACHE / 'fp32.mtime'
    fresh = stamp.exists() and stamp.read_text() == str(FP32.stat().st_mtime_ns)
    if not fresh:
        for old in CACHE.glob('*.onnx'):
            old.unlink()
        model_export.fuse(FP32, fused, facts['num_heads'], facts['hidden_size'])
        stamp.write_text(str(FP32.stat().st_mtime_ns))
    tokenizer = model_check.load_tokenizer(src / 'tokenizer.json')
    sep = tokenizer.token_to_id(facts['sep_token'])
    out = {}
    for key, is_fused, weight_type in VARIANTS:
        path = CACHE / (key + '.onnx')
        if not path.exists():
            model_export.quantize_int8(fused if is_fused else FP32, path, is_fused, weight_type)
        cosines = model_check.compare_models(FP32, path, tokenizer,
                                             model_check.SELF_CHECK_SENTENCES,
                                             facts['max_length'], sep)
        out[key] = {'path': path, 'fused': is_fused, 'weight_type': weight_type,
                    'bytes': path.stat().st_size, 'cosine_min': round(min(cosines), 4),
                    'cosine_mean': round(float(np.mean(cosines)), 4)}
    return out


def _ids(length, rng):
    return [101] + [rng.randrange(2000, 29000) for _ in range(length - 2)] + [102]


def time_variants(variants, warmup, rounds):
    """Browser latencies (ms) per variant and length, sessions timed in alternation."""
    from playwright.sync_api import sync_playwright

    dist = Path(B.build_bench_page())
    folder = dist / 'variants'
    folder.mkdir(exist_ok=True)
    for key, v in variants.items():
        link = folder / (key + '.onnx')
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(v['path'])
    rng = random.Random(0)
    ids = {n: _ids(n, rng) for n in LENGTHS}
    times = {key: {n: [] for n in LENGTHS} for key in variants}
    created = {}
    with B.Server(str(dist)) as server, sync_playwright() as pw:
        browser = B.Browser(pw, server.url)
        try:
            page = browser.page()
            page.goto(server.url + '/bench.html', wait_until='commit')
            page.wait_for_function('() => window.bench !== undefined', polling=10,
                                   timeout=B.PAGE_READY_MS)
            page.evaluate('([n, u]) => window.bench.ort_open(n, u)',
                          [THREADS, 'model/encoder.onnx'])
            for key in variants:
                created[key] = page.evaluate(
                    '([k, u, o]) => window.bench.variant_open(k, u, o)',
                    [key, 'variants/%s.onnx' % key, {'graphOptimizationLevel': 'all'}])
            started = time.time()
            while time.time() - started < warmup:
                for key in variants:
                    page.evaluate('([k, x, c]) => window.bench.variant_time(k, x, c)',
                                  [key, ids[128], 2])
            for _ in range(rounds):
                for n in LENGTHS:
                    for key in variants:
                        times[key][n] += page.evaluate(
                            '([k, x, c]) => window.bench.variant_time(k, x, c)',
                            [key, ids[n], 4 if n == 128 else 2])
            browser.check_network()
        finally:
            browser.close()
    return times, created


def markdown(results):
    base = results['baseline']
    lines = [
        '# Encoder file variants in the browser', '',
        'Same fp32 export, dynamic INT8 per output channel; fused = onnxruntime BERT optimizer '
        'before quantising. Bare onnxruntime-web %s session per variant in one page (WASM, %d '
        'threads), timed in alternation after %.0f s of warm-up; %d runs per variant at 128 '
        'tokens and %d at 256. Load average before/after: %.2f / %.2f.' % (
            results['onnxruntime_web'], THREADS, results['warmup_s'],
            results['runs'][str(LENGTHS[0])], results['runs'][str(LENGTHS[1])],
            results['load_before'], results['load_after']), '',
        '| variant | cosine vs fp32 min / mean | bytes | session create ms | p50 / p90 128 ms | '
        'p50 / p90 256 ms | p50 ratio vs %s, 128 / 256 |' % base,
        '|---|---|---:|---:|---:|---:|---:|',
    ]
    for key, v in results['variants'].items():
        row = '| %s | %.4f / %.4f | %d | %.0f | %.1f / %.1f | %.1f / %.1f | %.3f / %.3f |'
        lines.append(row % (
            key, v['cosine_min'], v['cosine_mean'], v['bytes'], v['create_ms'],
            v['p50']['128'], v['p90']['128'], v['p50']['256'], v['p90']['256'],
            v['ratio']['128'], v['ratio']['256']))
    lines += ['', 'Shipped recipe: %s.' % results.get('shipped', '?'), '']
    return '\n'.join(lines)


def run(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench model_variants')
    parser.add_argument('--warmup', type=float, default=12.0)
    parser.add_argument('--rounds', type=int, default=30)
    args = parser.parse_args(argv if argv is not None else [])
    load_before = os.getloadavg()[0]
    variants = build_variants()
    times, created = time_variants(variants, args.warmup, args.rounds)
    baseline = VARIANTS[0][0]
    p50 = {key: {n: float(np.median(times[key][n])) for n in LENGTHS} for key in variants}
    results = {
        'onnxruntime_web': B.package_version('onnxruntime-web'),
        'machine': platform.machine(), 'cpus': os.cpu_count(),
        'warmup_s': args.warmup, 'baseline': baseline,
        'runs': {str(n): len(times[baseline][n]) for n in LENGTHS},
        'load_before': load_before, 'load_after': os.getloadavg()[0],
        'variants': {},
    }
    manifest = Path(REPO) / 'public' / 'model' / 'manifest.json'
    if manifest.exists():
        import json
        q = json.loads(manifest.read_text())['quantization']
        results['shipped'] = '%s, %s weights' % ('fused' if q['fused'] else 'unfused',
                                                 q['weight_type'])
    for key, v in variants.items():
        results['variants'][key] = {
            'fused': v['fused'], 'weight_type': v['weight_type'], 'bytes': v['bytes'],
            'cosine_min': v['cosine_min'], 'cosine_mean': v['cosine_mean'],
            'create_ms': round(created[key], 1),
            'p50': {str(n): round(p50[key][n], 2) for n in LENGTHS},
            'p90': {str(n): round(float(np.percentile(times[key][n], 90)), 2) for n in LENGTHS},
            'ratio': {str(n): round(p50[key][n] / p50[baseline][n], 3) for n in LENGTHS},
        }
    save_results('model_variants', results, markdown(results))
    print(markdown(results))
    return results
