"""WebGPU on a real GPU: the encoder files through onnxruntime-node's WebGPU execution provider.

onnxruntime-node 1.30 ships onnxruntime with Dawn and the C++ WebGPU execution provider built
in: the same provider that onnxruntime-web's WebGPU build runs, compiled to WebAssembly, in the
browser. A GPU machine without a browser can therefore time the page's WebGPU files. Three
steps, the middle one on the GPU machine:

    python -m bench.webgpu_device prepare [--carry DIR]    # here: the folder to carry there
    python3 DIR/webgpu_device.py device DIR "$OUT"         # there (``prepare`` prints it)
    python -m bench.webgpu_device report OUT/webgpu_device.json   # here: bench/results/

``python -m bench.webgpu_device device DIR OUT --local`` is a dry run here on Chromium's
SwiftShader Vulkan driver (slow, but it runs every step).

What is carried (about 40 MB with xz, under a 64 MiB limit): this machine's ``node`` (a
self-contained binary), onnxruntime-node's linux-x64 binaries and onnxruntime-common, the Vulkan
loader and glvnd packages (Debian amd64, unpacked there before anything starts), this file, and
the model files as *skeletons*: each graph exactly as built, its large weights replaced by their
shape, type, mean, standard deviation and range. There the weights are drawn again at random from
those statistics: the same graph with the same shapes and types does the same work, whatever the
values (45 MB files would not fit next to node). Accuracy there is the WebGPU provider against
the CPU provider on the same random-weight file; accuracy against the real weights is checked by
the model build and the browser tests.

Per file and provider: session creation, first run, p50/p90 at 16/64/128/256 tokens (batch 1,
after a time-based warm-up, output read back to the CPU as the page does), the node placement
from onnxruntime's verbose log, and for the probe files p50 at the page's probe lengths.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

LENGTHS = [16, 64, 128, 256]
WARMUP_S = 3.0
MIN_SAMPLES = 40
MIN_S = 1.5
MAX_S = 4.0
KEEP_ELEMENTS = 4096          # smaller initializers (shapes, norms, biases) travel exactly
GL_PACKAGES = ['libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0',
               'libgles2']
NVIDIA_ICD = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json'
NVIDIA_EGL = '/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json'
SKELETON_KEY = 'skeleton_weights'

# name: (file in the model folder, providers, note). "cpu2"/"cpuN": the CPU provider with 2
# threads (the page's WASM thread count) or all cores.
RUNS = [
    ('webgpu-fp16', 'encoder.webgpu-fp16.onnx', ['webgpu'], 'shipped for adapters with shader-f16'),
    ('webgpu-fp32', 'encoder.webgpu-fp32.onnx', ['webgpu'], 'shipped for other adapters'),
    ('int8', 'encoder.onnx', ['webgpu', 'cpu2', 'cpuN'], 'the WASM file (dynamic INT8)'),
    ('fused-attention-fp16', 'compare.fused-attention-fp16.onnx', ['webgpu'],
     'not shipped: the same with the fused Attention operator (no mask)'),
    ('fused-attention-fp32', 'compare.fused-attention-fp32.onnx', ['webgpu'],
     'not shipped: fp32 with the fused Attention operator (no mask)'),
]
PROBES = [('probe-fp16', 'probe.webgpu-fp16.onnx', ['webgpu']),
          ('probe-fp32', 'probe.webgpu-fp32.onnx', ['webgpu']),
          ('probe-int8', 'probe.wasm.onnx', ['webgpu', 'cpu2'])]

NODE_SCRIPT = r"""
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const ort = require(process.env.ORT_NODE);
const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const now = () => performance.now();

function ids(n) {
  const a = new BigInt64Array(n);
  for (let i = 0; i < n; i++) a[i] = BigInt(1000 + ((i * 7919) % (job.vocab - 1000)));
  a[0] = 101n; a[n - 1] = 102n;
  return a;
}
function feeds(session, n) {
  const f = {input_ids: new ort.Tensor('int64', ids(n), [1, n])};
  if (session.inputNames.includes('attention_mask'))
    f.attention_mask = new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]);
  return f;
}
function stats(a) {
  const s = [...a].sort((x, y) => x - y);
  const q = p => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  return {p50_ms: q(0.5), p90_ms: q(0.9), min_ms: s[0],
          mean_ms: s.reduce((x, y) => x + y, 0) / s.length, samples: s.length};
}
async function timed(session, f) {
  const t = now(); const r = await session.run(f); const d = now() - t;
  return [d, r];
}

const ep = job.ep === 'webgpu' ? {name: 'webgpu'} : {name: 'cpu'};
const options = {executionProviders: [ep], graphOptimizationLevel: 'all',
                 logSeverityLevel: job.verbose ? 0 : 3, logVerbosityLevel: 0};
if (job.threads) { options.intraOpNumThreads = job.threads; options.interOpNumThreads = 1; }
const out = {name: job.name, ep: job.ep, threads: job.threads || null};
let t0 = now();
const session = await ort.InferenceSession.create(job.model, options);
out.create_ms = now() - t0;
if (!job.verbose) {
  const first = await timed(session, feeds(session, 128));
  out.first_run_128_ms = first[0];
  if (job.dump) fs.writeFileSync(job.dump, Buffer.from(first[1].last_hidden_state.data.buffer));
  const fs_ = {};
  for (const n of job.lengths) fs_[n] = feeds(session, n);
  t0 = now();
  while (now() - t0 < job.warmup_s * 1000) for (const n of job.lengths) await session.run(fs_[n]);
  out.latency = {};
  for (const n of job.lengths) {
    const s = []; const t1 = now();
    while ((s.length < job.min_samples || now() - t1 < job.min_s * 1000)
           && now() - t1 < job.max_s * 1000) s.push((await timed(session, fs_[n]))[0]);
    out.latency[n] = stats(s);
  }
}
await session.release();
console.log('RESULT ' + JSON.stringify(out));
process.exit(0);
"""


# --- skeletons: the graph exactly, the weights as statistics -------------------------------

def skeleton(src, dst):
    """Write ``src`` without its large weights: each initializer of KEEP_ELEMENTS values or more
    keeps its name, type and shape, and its values are replaced by their statistics (kept in the
    model's metadata). Returns the skeleton's size in bytes."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    stats = {}
    for init in model.graph.initializer:
        if int(np.prod(init.dims)) < KEEP_ELEMENTS:
            continue
        arr = numpy_helper.to_array(init)
        wide = arr.astype(np.float64)
        stats[init.name] = {'dtype': str(arr.dtype), 'mean': float(wide.mean()),
                            'std': float(wide.std()), 'min': float(wide.min()),
                            'max': float(wide.max())}
        for field in ('raw_data', 'float_data', 'int32_data', 'int64_data', 'double_data'):
            init.ClearField(field)
    entry = model.metadata_props.add()
    entry.key, entry.value = SKELETON_KEY, json.dumps(stats)
    onnx.save(model, str(dst))
    return os.path.getsize(dst)


def rehydrate(src, dst, seed=0):
    """Draw the weights of a skeleton again (normal with the recorded mean and deviation,
    clipped to the recorded range; integers uniform over it) and write a runnable model."""
    import numpy as np
    import onnx

    model = onnx.load(str(src))
    props = {p.key: p.value for p in model.metadata_props}
    stats = json.loads(props[SKELETON_KEY])
    rng = np.random.default_rng(seed)
    for init in model.graph.initializer:
        s = stats.get(init.name)
        if s is None:
            continue
        shape = tuple(init.dims)
        dtype = np.dtype(s['dtype'])
        if dtype.kind == 'f':
            arr = rng.normal(s['mean'], max(s['std'], 1e-6), size=shape)
            arr = np.clip(arr, s['min'], s['max']).astype(dtype)
        else:
            arr = rng.integers(int(s['min']), int(s['max']) + 1, size=shape).astype(dtype)
        init.raw_data = arr.tobytes()
    kept = [p for p in model.metadata_props if p.key != SKELETON_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    onnx.save(model, str(dst))


# --- here: the folder to carry -----------------------------------------------------------------

def fused_attention_variants(work):
    """The comparison files: the masked export fused with the Attention operator (embeddings
    unfused), its mask input removed (all ones for unpadded texts), in fp16 and fp32."""
    import onnx
    from onnxruntime.transformers.onnx_model import OnnxModel

    from bench import REPO
    from tools import model_export, model_webgpu

    fp32 = os.path.join(REPO, '.cache', 'model', 'encoder.fp32.onnx')
    fused = os.path.join(work, 'fused-attention.fp32.onnx')
    model_export.fuse(fp32, fused, 12, 384, embed_layer_norm=False)
    model = onnx.load(fused)
    for node in model.graph.node:
        if node.op_type == 'Attention':
            del node.input[3:]
    wrapper = OnnxModel(model)
    wrapper.prune_graph()
    inputs = [i for i in model.graph.input if i.name != 'attention_mask']
    del model.graph.input[:]
    model.graph.input.extend(inputs)
    wrapper.prune_graph()
    nomask = os.path.join(work, 'fused-attention.nomask.fp32.onnx')
    onnx.save(model, nomask)
    out = {}
    for name, convert in (('fp16', model_webgpu.to_fp16), ('fp32', model_webgpu.fp16_storage)):
        path = os.path.join(work, 'compare.fused-attention-%s.onnx' % name)
        convert(nomask, path)
        out[os.path.basename(path)] = path
    return out


def prepare(carry):
    """Fill ``carry`` with everything the GPU machine needs; print the command to run there."""
    from bench import REPO

    model_dir = os.path.join(REPO, 'public', 'model')
    shutil.rmtree(carry, ignore_errors=True)
    os.makedirs(os.path.join(carry, 'models'))
    os.makedirs(os.path.join(carry, 'gl'))
    work = os.path.join(REPO, '.cache', 'webgpu-device-work')
    os.makedirs(work, exist_ok=True)
    files = {name: os.path.join(model_dir, name) for _, name, _, _ in RUNS
             if not name.startswith('compare.')}
    files.update({name: os.path.join(model_dir, name) for _, name, _ in PROBES})
    files.update(fused_attention_variants(work))
    sizes = {name: skeleton(path, os.path.join(carry, 'models', name))
             for name, path in files.items()}
    manifest = json.load(open(os.path.join(model_dir, 'manifest.json'), encoding='utf-8'))
    info = {'vocab': manifest['vocab_size'], 'probe': manifest.get('probe'),
            'skeleton_bytes': sizes, 'sha256': {n: manifest['files'][n]['sha256']
                                                for n in files if n in manifest['files']}}
    with open(os.path.join(carry, 'info.json'), 'w', encoding='utf-8') as f:
        json.dump(info, f, indent=1)
    node = shutil.which('node')
    subprocess.run(['sh', '-c', 'xz -T0 -6 -c "%s" > "%s"' % (
        os.path.realpath(node), os.path.join(carry, 'node.xz'))], check=True)
    ort_dir = os.path.join(REPO, 'node_modules')
    subprocess.run(['tar', '-C', ort_dir, '-cJf', os.path.join(carry, 'ort.tar.xz'),
                    'onnxruntime-node/package.json', 'onnxruntime-node/dist',
                    'onnxruntime-node/bin/napi-v6/linux/x64', 'onnxruntime-common'], check=True)
    subprocess.run(['apt-get', 'download'] + GL_PACKAGES, cwd=os.path.join(carry, 'gl'),
                   check=True, capture_output=True)
    shutil.copyfile(os.path.abspath(__file__), os.path.join(carry, 'webgpu_device.py'))
    total = sum(os.path.getsize(os.path.join(root, f))
                for root, _, names in os.walk(carry) for f in names)
    print('carry folder %s: %.1f MB' % (carry, total / 1e6))
    print('command there: python3 %s/webgpu_device.py device %s "$OUT"' % (carry, carry))
    return total


# --- there: run everything -----------------------------------------------------------------

def _setup(carry, work, local):
    """Unpack what was carried (``local``: use this machine's node, onnxruntime-node and
    Chromium's SwiftShader Vulkan driver instead, a dry run before spending GPU time)."""
    os.makedirs(work, exist_ok=True)
    if local:
        node = shutil.which('node')
        shutil.rmtree(os.path.join(work, 'onnxruntime-node'), ignore_errors=True)
        subprocess.run(['tar', '-C', work, '-xJf', os.path.join(carry, 'ort.tar.xz')],
                       check=True)
    else:
        for deb in sorted(os.listdir(os.path.join(carry, 'gl'))):
            subprocess.run(['dpkg', '-x', os.path.join(carry, 'gl', deb), '/'], check=True)
        subprocess.run(['ldconfig'], check=True)
        node = os.path.join(work, 'node')
        subprocess.run(['sh', '-c', 'xz -d -c "%s/node.xz" > "%s"' % (carry, node)],
                       check=True)
        os.chmod(node, 0o755)
        subprocess.run(['tar', '-C', work, '-xJf', os.path.join(carry, 'ort.tar.xz')],
                       check=True)
    # onnxruntime-node requires onnxruntime-common by name: give it a node_modules folder.
    os.makedirs(os.path.join(work, 'onnxruntime-node', 'node_modules'), exist_ok=True)
    link = os.path.join(work, 'onnxruntime-node', 'node_modules', 'onnxruntime-common')
    if not os.path.exists(link):
        os.symlink(os.path.join(work, 'onnxruntime-common'), link)
    with open(os.path.join(work, 'run.mjs'), 'w', encoding='utf-8') as f:
        f.write(NODE_SCRIPT)
    env = dict(os.environ, ORT_NODE=os.path.join(work, 'onnxruntime-node'))
    if os.path.exists(NVIDIA_ICD):
        env['VK_DRIVER_FILES'] = NVIDIA_ICD
    if os.path.exists(NVIDIA_EGL):
        env['__EGL_VENDOR_LIBRARY_FILENAMES'] = NVIDIA_EGL
    if local:
        env['VK_ICD_FILENAMES'] = '/usr/lib/chromium/vk_swiftshader_icd.json'
        env['LD_LIBRARY_PATH'] = '/usr/lib/chromium'
    return node, env


def _placement(log):
    """{provider: count} and the CPU-placed nodes ("Op (name)") from a verbose log."""
    counts, cpu, current = {}, [], None
    for line in log.splitlines():
        if ' placed on [' in line:   # "Node(s) placed on [EP]" or "All nodes placed on [EP]"
            current = line.split(' placed on [')[1].split(']')[0]
            counts[current] = int(line.rsplit(':', 1)[1])
        elif current and 'VerifyEachNodeIsAssignedToAnEp]   ' in line:
            if current == 'CPUExecutionProvider':
                cpu.append(line.split(']   ', 1)[1].strip())
        elif 'VerifyEachNodeIsAssignedToAnEp' not in line:
            current = None
    return counts, cpu


def _node_job(node, env, work, job, timeout=120):
    path = os.path.join(work, 'job-%s-%s.json' % (job['name'], job['ep']))
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(job, f)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([node, os.path.join(work, 'run.mjs'), path], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:   # a run() that never resolves: the next file
        def text(b):
            return (b.decode(errors='replace') if isinstance(b, bytes) else b) or ''
        return ({'error': 'timed out after %d s: %s' % (timeout, text(e.stderr)[-1500:]),
                 'wall_s': round(time.monotonic() - t0, 1)}, text(e.stdout) + text(e.stderr))
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith('RESULT '):
            result = json.loads(line[len('RESULT '):])
    if result is None:
        result = {'error': (proc.stdout[-1500:] + proc.stderr[-3000:]).strip(),
                  'returncode': proc.returncode}
    result['wall_s'] = round(time.monotonic() - t0, 1)
    return result, proc.stdout + '\n' + proc.stderr   # the log: wherever onnxruntime wrote it


def _cosines(a_path, b_path, hidden=384):
    import numpy as np
    a = np.fromfile(a_path, dtype=np.float32).reshape(-1, hidden).astype(np.float64)
    b = np.fromfile(b_path, dtype=np.float32).reshape(-1, hidden).astype(np.float64)
    pa, pb = a.mean(axis=0), b.mean(axis=0)
    token = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {'pooled': float(pa @ pb / (np.linalg.norm(pa) * np.linalg.norm(pb))),
            'worst_token': float(token.min())}


def device(carry, out, local=False):
    """Run every file on every provider it is listed for; write webgpu_device.json (and the
    placement logs) under ``out`` and print a short table. ``local``: a dry run here on
    SwiftShader (see _setup)."""
    started = time.monotonic()
    work = '/tmp/webgpu-device'
    node, env = _setup(carry, work, local)
    info = json.load(open(os.path.join(carry, 'info.json'), encoding='utf-8'))
    models = os.path.join(work, 'models')
    os.makedirs(models, exist_ok=True)
    for name in sorted(os.listdir(os.path.join(carry, 'models'))):
        rehydrate(os.path.join(carry, 'models', name), os.path.join(models, name))
    cores = os.cpu_count()
    report = {'benchmark': 'webgpu_device', 'date': time.strftime('%Y-%m-%d %H:%M:%S'),
              'machine': {'cpu_count': cores,
                          'gpu': subprocess.run(['nvidia-smi', '-L'], capture_output=True,
                                                text=True).stdout.strip()
                          if shutil.which('nvidia-smi') else 'SwiftShader (local dry run)',
                          'node': subprocess.run([node, '--version'], capture_output=True,
                                                 text=True).stdout.strip()},
              'protocol': {'lengths': LENGTHS, 'warmup_s': WARMUP_S, 'min_samples': MIN_SAMPLES,
                           'min_s': MIN_S, 'max_s': MAX_S},
              'info': info, 'runs': {}, 'probes': {}}
    logs = []
    os.makedirs(out, exist_ok=True)

    def save():   # after every file too: a run stopped at the command's limit keeps the rest
        report['seconds'] = round(time.monotonic() - started, 1)
        with open(os.path.join(out, 'webgpu_device.json'), 'w', encoding='utf-8') as f:
            json.dump(report, f, indent=1)
        with open(os.path.join(out, 'placement.log'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(logs))

    base = {'vocab': info['vocab'], 'warmup_s': WARMUP_S, 'min_samples': MIN_SAMPLES,
            'min_s': MIN_S, 'max_s': MAX_S}
    if local:   # SwiftShader takes seconds a run: one sample each, to check every step
        base.update(warmup_s=0, min_samples=1, min_s=0, max_s=0.001)
    plans = [(n, f, eps, LENGTHS, 'runs') for n, f, eps, _ in RUNS]
    probe_lengths = (info.get('probe') or {}).get('lengths') or [32, 128]
    plans += [(n, f, eps, probe_lengths, 'probes') for n, f, eps in PROBES]
    for name, file, eps, lengths, group in plans:
        model = os.path.join(models, file)
        entry = report[group].setdefault(name, {'file': file})
        for ep in eps:
            threads = {'cpu2': 2, 'cpuN': cores}.get(ep)
            job = dict(base, name=name, model=model, ep='cpu' if threads else ep,
                       threads=threads, lengths=lengths,
                       vocab=info['probe']['vocab'] if group == 'probes' else info['vocab'])
            if group == 'runs' and ep == 'webgpu':
                placed, log = _node_job(node, env, work, dict(job, verbose=True))
                counts, cpu = _placement(log)
                entry['placement'] = {'counts': counts, 'cpu_nodes': cpu}
                logs.append('== %s\n%s' % (name, '\n'.join(
                    x for x in log.splitlines() if 'VerifyEach' in x or 'rror' in x)))
                job['dump'] = os.path.join(work, '%s-webgpu.f32' % name)
            result, _ = _node_job(node, env, work, job)
            entry[ep] = result
            print('%-22s %-6s %s' % (name, ep, json.dumps(
                {k: round(v['p50_ms'], 2) for k, v in (result.get('latency') or {}).items()})
                if 'latency' in result else result.get('error', '')[:300]), flush=True)
        if group == 'runs' and 'webgpu' in eps:
            ref = dict(base, name=name + '-ref', model=model, ep='cpu', threads=cores,
                       lengths=[], warmup_s=0,
                       vocab=info['vocab'], dump=os.path.join(work, '%s-cpu.f32' % name))
            result, _ = _node_job(node, env, work, ref)
            gpu_dump = os.path.join(work, '%s-webgpu.f32' % name)
            if 'error' not in result and os.path.exists(gpu_dump):
                entry['cosine_webgpu_vs_cpu_128'] = _cosines(gpu_dump, ref['dump'])
        save()
    save()
    print(summary(report))
    return report


# --- here: the report --------------------------------------------------------------------------

def summary(report):
    lines = ['| file | provider | create ms | first run ms | p50 / p90 ms at %s tokens | '
             'nodes on CPU |' % '/'.join(str(n) for n in LENGTHS), '|---|---|---:|---:|---|---:|']
    for name, entry in report['runs'].items():
        for ep in ('webgpu', 'cpu2', 'cpuN'):
            r = entry.get(ep)
            if r is None:
                continue
            if 'latency' not in r:
                error = r.get('error', '')[:120]
                lines.append('| %s | %s | failed: %s | | | |' % (name, ep, error))
                continue
            cells = ' · '.join('%.1f / %.1f' % (r['latency'][str(n)]['p50_ms'],
                                                r['latency'][str(n)]['p90_ms'])
                               for n in LENGTHS if str(n) in r['latency'])
            cpu = ''
            if ep == 'webgpu' and entry.get('placement'):
                cpu = str(entry['placement']['counts'].get('CPUExecutionProvider', 0))
            label = {'webgpu': 'WebGPU', 'cpu2': 'CPU, 2 threads',
                     'cpuN': 'CPU, %s threads' % r.get('threads')}[ep]
            lines.append('| %s | %s | %.0f | %.1f | %s | %s |' % (
                name, label, r['create_ms'], r['first_run_128_ms'], cells, cpu))
    return '\n'.join(lines)


def markdown(report, wasm):
    m = report['machine']
    lines = ['# WebGPU on a real GPU', '',
             'onnxruntime-node 1.30 (its WebGPU execution provider is the one onnxruntime-web\'s '
             'WebGPU build runs), %s, node %s, %d CPU cores; batch 1, p50/p90 after %.0f s of '
             'warm-up, output read back to the CPU. The graphs are the built files; their '
             'weights were drawn at random from each tensor\'s statistics on that machine '
             '(same shapes and types, same work). `python -m bench webgpu_device` (see its '
             'docstring) re-runs it.' % (m['gpu'] or 'GPU', m['node'], m['cpu_count'],
                                         report['protocol']['warmup_s']), '',
             summary(report), '']
    notes = []
    for name, entry in report['runs'].items():
        c = entry.get('cosine_webgpu_vs_cpu_128')
        if c:
            notes.append('%s %.6f (worst token %.6f)' % (name, c['pooled'], c['worst_token']))
    if notes:
        lines += ['WebGPU vs the CPU provider on the same file at 128 tokens, cosine of the '
                  'mean-pooled output: ' + '; '.join(notes) + '.', '']
    cpu_nodes = {name: entry['placement']['cpu_nodes'] for name, entry in report['runs'].items()
                 if entry.get('placement')}
    for name, nodes in cpu_nodes.items():
        ops = {}
        for n in nodes:
            op = n.split(' ', 1)[0]
            ops[op] = ops.get(op, 0) + 1
        lines.append('- %s: on the CPU %s' % (
            name, ', '.join('%s ×%d' % kv for kv in sorted(ops.items())) or 'nothing'))
    lines.append('')
    if report.get('probes'):
        cells = []
        for name, entry in report['probes'].items():
            for ep in ('webgpu', 'cpu2'):
                r = entry.get(ep)
                if r and 'latency' in r:
                    cells.append('%s on %s %s ms' % (name, ep, ' / '.join(
                        '%.1f' % v['p50_ms'] for v in r['latency'].values())))
        lines += ['Probe files (what the page times before choosing), p50 at %s tokens: %s.' % (
            '/'.join(str(n) for n in report['info']['probe']['lengths']), '; '.join(cells)), '']
    if wasm:
        gpu = report['runs'].get('webgpu-fp16', {}).get('webgpu', {}).get('latency', {})
        if '128' in gpu:
            ratio = wasm['p50_128_ms'] / gpu['128']['p50_ms']
            lines += ['Goal (WebGPU file >= 3x faster than the page\'s WASM path here at 128 '
                      'tokens): WASM %.1f ms (%s) / WebGPU fp16 %.1f ms = %.1fx: %s.' % (
                          wasm['p50_128_ms'], wasm['source'], gpu['128']['p50_ms'], ratio,
                          'met' if ratio >= 3 else 'not met'), '']
    return '\n'.join(lines)


def report_from(path):
    from bench import load_results, save_results

    with open(path, encoding='utf-8') as f:
        report = json.load(f)
    speed = load_results('encoder_speed')
    wasm = None
    if speed:
        wasm = {'p50_128_ms': speed['p50_ms']['product']['128'],
                'source': 'product `tinybert.embed`, bench/results/encoder_speed.json, %s'
                          % speed['date']}
        report['wasm_here'] = wasm
    save_results('webgpu_device', report, markdown(report, wasm))
    print(markdown(report, wasm))
    return report


def run(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench webgpu_device')
    sub = parser.add_subparsers(dest='step', required=True)
    p = sub.add_parser('prepare', help='fill the folder to carry to the GPU machine')
    p.add_argument('--carry', default=None, help='folder (default .cache/webgpu-device)')
    d = sub.add_parser('device', help='on the GPU machine: run everything')
    d.add_argument('carry')
    d.add_argument('out')
    d.add_argument('--local', action='store_true',
                   help='a dry run here (SwiftShader), before spending GPU time')
    r = sub.add_parser('report', help='write bench/results/webgpu_device.{json,md}')
    r.add_argument('json')
    if not argv:
        parser.print_help()
        return None
    args = parser.parse_args(argv)
    if args.step == 'prepare':
        from bench import REPO
        return prepare(args.carry or os.path.join(REPO, '.cache', 'webgpu-device'))
    if args.step == 'device':
        return device(args.carry, args.out, args.local)
    return report_from(args.json)


if __name__ == '__main__':
    run(sys.argv[1:])
