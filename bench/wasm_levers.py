"""What makes the WASM encoder faster: ``python -m bench wasm_levers``.

Each lever is a variant of the shipped INT8 file (``public/model/encoder.onnx``: fused graph,
dynamic INT8, per-channel uint8 weights), built into ``.cache/wasm-levers`` and timed in one
Chromium page beside the shipped file: bare onnxruntime-web sessions (the product's build,
WASM, 2 threads, graphOptimizationLevel "all"), timed in alternation after a warm-up, so that
the machine's load hits them alike; ratios against the shipped file are the result.

- ``static_qdq``: static (calibrated) INT8 in QDQ form instead of dynamic: no
  DynamicQuantizeLinear per matrix product (24 a run). The graph is fused without the Attention
  operator (whose INT8 form exists only for dynamic quantisation), so the Q/K/V projections are
  plain matrix products that the QDQ quantiser covers; calibration: 200 texts of the tokenizer
  test corpus (not the check sentences), MinMax. Accuracy: cosine vs fp32 on the build's 30
  self-check sentences.
- ``layers_5``, ``layers_4``: the last encoder layer(s) removed, then the shipped recipe.
  Their accuracy is judged by the learning benchmark (``--learning`` runs it on each).
- ``ort_format``: the shipped file converted to onnxruntime's ORT format (the graph stored
  already optimised): session creation and run time.

Relaxed SIMD is not a variant: onnxruntime-web 1.30 ships one non-WebGPU wasm, and it validates
in a runtime without relaxed SIMD (Node 20 without --experimental-wasm-relaxed-simd), so it
holds none of those instructions; ``env.wasm.simd = "relaxed"`` only checks that the browser
supports them. The check is repeated here (``relaxed_simd`` in the results).

Writes bench/results/wasm_levers.{json,md}.
"""
import argparse
import os
import random
import subprocess
import time
from pathlib import Path

import numpy as np

from bench import REPO, save_results
from bench import browser as B

CACHE = Path(REPO) / '.cache' / 'wasm-levers'
MODEL = Path(REPO) / 'public' / 'model'
LENGTHS = (16, 128)
THREADS = 2
CALIBRATION_TEXTS = 200


def _tools():
    from tools import model_check, model_export
    return model_check, model_export


class _Reader:
    """onnxruntime's calibration reader over token ids of real texts (batch 1, unpadded)."""

    def __init__(self, id_lists, inputs):
        self.items = iter([{name: np.asarray([ids], np.int64) if name == 'input_ids'
                            else np.ones((1, len(ids)), np.int64) for name in inputs}
                           for ids in id_lists])

    def get_next(self):
        return next(self.items, None)


def _calibration_ids(tokenizer, max_length, sep):
    from tests.support.tokenizer_reference import load_corpus
    model_check, _ = _tools()
    texts = [t for t in load_corpus() if 20 <= len(t) <= 600]
    random.Random(0).shuffle(texts)
    return [model_check.token_ids(tokenizer, t, max_length, sep)
            for t in texts[:CALIBRATION_TEXTS]]


def build_static(fp32, dst, facts, tokenizer, sep):
    """Static QDQ INT8 of the graph fused without Attention (weights per channel, uint8)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions('bert')
    options.enable_attention = False
    fused = CACHE / 'static.fused.fp32.onnx'
    optimize_model(str(fp32), model_type='bert', num_heads=facts['num_heads'],
                   hidden_size=facts['hidden_size'], opt_level=None,
                   optimization_options=options).save_model_to_file(str(fused))
    graph = onnx.load(str(fused))
    weights = {i.name for i in graph.graph.initializer}
    # Only products with a weight: the attention's Q·K and P·V stay float.
    skip = [n.name for n in graph.graph.node
            if n.op_type == 'MatMul' and not any(x in weights for x in n.input)]
    ids = _calibration_ids(tokenizer, facts['max_length'], sep)
    quantize_static(str(fused), str(dst), _Reader(ids, ['input_ids', 'attention_mask']),
                    quant_format=QuantFormat.QDQ, op_types_to_quantize=['MatMul'],
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QUInt8, nodes_to_exclude=skip,
                    calibrate_method=CalibrationMethod.MinMax,
                    extra_options={'DefaultTensorType': onnx.TensorProto.FLOAT})


def build_pruned(layers, dst, src):
    """The shipped recipe on the encoder cut to its first ``layers`` layers."""
    import torch
    model_check, model_export = _tools()
    facts = model_export.read_model_facts(src)
    model = model_export.load_torch_model(src)
    model.inner.encoder.layer = torch.nn.ModuleList(list(model.inner.encoder.layer)[:layers])
    model.inner.config.num_hidden_layers = layers
    fp32 = CACHE / ('layers_%d.fp32.onnx' % layers)
    model_export.export_fp32(model, fp32, facts['vocab_size'])
    fused = CACHE / ('layers_%d.fused.fp32.onnx' % layers)
    model_export.fuse(fp32, fused, facts['num_heads'], facts['hidden_size'])
    model_export.quantize_int8(fused, dst, fused=True, weight_type='QUInt8')


def build_ort_format(src, dst):
    """onnxruntime's ORT format of ``src`` (optimised at the level the browser applies)."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    # Basic only: higher levels may store x86-specific kernels that the wasm build lacks.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(dst)
    opts.add_session_config_entry('session.save_model_format', 'ORT')
    ort.InferenceSession(str(src), opts, providers=['CPUExecutionProvider'])


def relaxed_simd_check():
    """Whether onnxruntime-web's plain wasm validates without relaxed SIMD (then it has none)."""
    wasm = os.path.join(REPO, 'node_modules', 'onnxruntime-web', 'dist',
                        'ort-wasm-simd-threaded.wasm')
    script = ("const b=require('fs').readFileSync(process.argv[1]);"
              "console.log(WebAssembly.validate(b))")
    out = subprocess.run(['node', '-e', script, wasm], capture_output=True, text=True)
    wasms = sorted(p for p in os.listdir(os.path.dirname(wasm)) if p.endswith('.wasm'))
    return {'validates_without_relaxed_simd': out.stdout.strip() == 'true',
            'node': subprocess.run(['node', '--version'], capture_output=True,
                                   text=True).stdout.strip(),
            'wasm_files': wasms}


def build_variants(names):
    model_check, model_export = _tools()
    CACHE.mkdir(parents=True, exist_ok=True)
    src, _ = model_export.locate_package()
    facts = model_export.read_model_facts(src)
    fp32 = Path(REPO) / '.cache' / 'model' / 'encoder.fp32.onnx'
    tokenizer = model_check.load_tokenizer(MODEL / 'tokenizer.json')
    sep = tokenizer.token_to_id(facts['sep_token'])
    out = {'shipped': MODEL / 'encoder.onnx'}
    builders = {
        'static_qdq': lambda dst: build_static(fp32, dst, facts, tokenizer, sep),
        'layers_5': lambda dst: build_pruned(5, dst, src),
        'layers_4': lambda dst: build_pruned(4, dst, src),
        'ort_format': lambda dst: build_ort_format(MODEL / 'encoder.onnx', dst),
    }
    for name in names:
        dst = CACHE / (name + ('.ort' if name == 'ort_format' else '.onnx'))
        builders[name](dst)
        out[name] = dst
    info = {}
    for name, path in out.items():
        entry = {'bytes': path.stat().st_size}
        if path.suffix == '.onnx' and not name.startswith('layers_'):
            cosines = model_check.compare_models(fp32, path, tokenizer,
                                                 model_check.SELF_CHECK_SENTENCES,
                                                 facts['max_length'], sep)
            entry.update(cosine_min=round(min(cosines), 4),
                         cosine_mean=round(float(np.mean(cosines)), 4))
        info[name] = entry
    return out, info


def _ids(length, rng):
    return [101] + [rng.randrange(2000, 29000) for _ in range(length - 2)] + [102]


def time_variants(paths, warmup, rounds):
    from playwright.sync_api import sync_playwright

    dist = Path(B.build_bench_page())
    folder = dist / 'levers'
    folder.mkdir(exist_ok=True)
    for path in paths.values():
        link = folder / path.name
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to(path)
    rng = random.Random(0)
    ids = {n: _ids(n, rng) for n in LENGTHS}
    times = {name: {n: [] for n in LENGTHS} for name in paths}
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
            for name, path in paths.items():
                created[name] = page.evaluate(
                    '([k, u, o]) => window.bench.variant_open(k, u, o)',
                    [name, 'levers/' + path.name, {'graphOptimizationLevel': 'all'}])
            started = time.time()
            while time.time() - started < warmup:
                for name in paths:
                    page.evaluate('([k, x, c]) => window.bench.variant_time(k, x, c)',
                                  [name, ids[128], 2])
            for _ in range(rounds):
                for n in LENGTHS:
                    for name in paths:
                        times[name][n] += page.evaluate(
                            '([k, x, c]) => window.bench.variant_time(k, x, c)',
                            [name, ids[n], 6 if n == 16 else 3])
            browser.check_network()
        finally:
            browser.close()
    return times, created


def learning_at(shots, variants):
    """Mean 20-shot accuracy of the page's head per learning set, for the shipped file and each
    variant file (``{name: path}``), with the learning benchmark's protocol."""
    from bench import embed, learning, protocol
    out = {}
    for name, path in [('shipped', None)] + list(variants.items()):
        if path is None:
            os.environ.pop(embed.ENCODER_OVERRIDE, None)
        else:
            os.environ[embed.ENCODER_OVERRIDE] = str(path)
        row = {}
        for set_name in learning.SETS:
            X, y, names = protocol.load_set(set_name)
            accs = []
            for d in range(protocol.DRAWS):
                train, test = protocol.split(y, len(names), shots, d)
                accs.append(learning.run_product(X, y, names, train, test)[0])
            row[set_name] = round(float(np.mean(accs)), 4)
        out[name] = row
        print('  learning, %d shots, %s: %s' % (shots, name, row), flush=True)
    os.environ.pop(embed.ENCODER_OVERRIDE, None)
    return out


def markdown(r):
    lines = ['# WASM levers', '',
             'Bare onnxruntime-web %s sessions in one Chromium page (WASM, %d threads), timed in '
             'alternation after %.0f s of warm-up; load average before/after %.2f / %.2f. Ratios '
             'are p50 against the shipped file measured in the same rounds.' % (
                 r['onnxruntime_web'], THREADS, r['warmup_s'], r['load_before'],
                 r['load_after']), '',
             '| variant | bytes | cosine vs fp32 min / mean | session create ms | p50 16 | '
             'p50 128 | ratio 16 / 128 |', '|---|---:|---|---:|---:|---:|---:|']
    for name, v in r['variants'].items():
        cos = ('%.4f / %.4f' % (v['cosine_min'], v['cosine_mean'])) if 'cosine_min' in v else '—'
        lines.append('| %s | %d | %s | %.0f | %.1f | %.1f | %.3f / %.3f |' % (
            name, v['bytes'], cos, v['create_ms'], v['p50']['16'], v['p50']['128'],
            v['ratio']['16'], v['ratio']['128']))
    rs = r['relaxed_simd']
    lines += ['', 'Relaxed SIMD: onnxruntime-web ships %s; the non-WebGPU wasm validates without '
              'relaxed SIMD in node %s: %s (so it holds no relaxed-SIMD instruction, and '
              '`env.wasm.simd = "relaxed"` cannot change its speed).' % (
                  ', '.join(rs['wasm_files']), rs['node'], rs['validates_without_relaxed_simd']),
              '']
    if r.get('learning'):
        base = r['learning']['shipped']
        lines += ['Learning benchmark, %d shots per label (mean of 5 draws; the goal keeps '
                  'every set within 1 point of the shipped file):' % r['learning_shots'], '',
                  '| file | ' + ' | '.join(base) + ' | worst change |',
                  '|---|' + '---:|' * (len(base) + 1)]
        for name, row in r['learning'].items():
            worst = min(row[k] - base[k] for k in base)
            lines.append('| %s | %s | %+.3f |' % (name, ' | '.join(
                '%.3f' % row[k] for k in base), worst))
        lines.append('')
    return '\n'.join(lines)


def run(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench wasm_levers')
    parser.add_argument('--warmup', type=float, default=12.0)
    parser.add_argument('--rounds', type=int, default=12)
    parser.add_argument('--only', nargs='*', default=['static_qdq', 'layers_5', 'layers_4',
                                                      'ort_format'])
    parser.add_argument('--learning', type=int, default=20, metavar='SHOTS',
                        help='learning benchmark at SHOTS examples per label on the pruned '
                             'variants (0: skip)')
    args = parser.parse_args(argv if argv is not None else [])
    load_before = os.getloadavg()[0]
    paths, info = build_variants(args.only)
    times, created = time_variants(paths, args.warmup, args.rounds)
    results = {'onnxruntime_web': B.package_version('onnxruntime-web'), 'threads': THREADS,
               'warmup_s': args.warmup, 'load_before': load_before,
               'load_after': os.getloadavg()[0], 'relaxed_simd': relaxed_simd_check(),
               'variants': {}}
    base = {n: float(np.median(times['shipped'][n])) for n in LENGTHS}
    for name in paths:
        p50 = {n: float(np.median(times[name][n])) for n in LENGTHS}
        results['variants'][name] = dict(
            info[name], create_ms=round(created[name], 1),
            p50={str(n): round(v, 2) for n, v in p50.items()},
            p90={str(n): round(float(np.percentile(times[name][n], 90)), 2) for n in LENGTHS},
            ratio={str(n): round(p50[n] / base[n], 3) for n in LENGTHS},
            samples={str(n): len(times[name][n]) for n in LENGTHS})
    pruned = {name: path for name, path in paths.items() if name.startswith('layers_')}
    if args.learning and pruned:
        results['learning_shots'] = args.learning
        results['learning'] = learning_at(args.learning, pruned)
    save_results('wasm_levers', results, markdown(results))
    print(markdown(results))
    return results


if __name__ == '__main__':
    import sys
    run(sys.argv[1:])
