"""Run benchmarks: ``python -m bench`` runs every benchmark in BENCHMARKS; ``python -m bench
learning`` (or several names) runs only those. Add a benchmark by adding one entry below: a
name mapped to ``(module under bench/, whether a bare run includes it, one-line summary)``;
the module needs a ``run()`` that writes its results under ``bench/results/``.
"""
import importlib
import sys

BENCHMARKS = {
    'learning': ('learning', True, 'few-shot accuracy of the head trainer vs logistic regression'),
    'tune': ('tune', False, 'hyper-parameter sweep that chose the trainer defaults (slow)'),
    'train_speed': ('train_speed', False,
                    'train_head in Node and Chromium, 5 epochs x 60 examples (in learning too)'),
    'tokenizer_speed': ('tokenizer_speed', True,
                        'tokens/s in Chromium: ours vs transformers.js vs HF tokenizers'),
    'page_training': ('page_training', True,
                      'in-page training time (5 epochs x 60 examples) and storage sizes'),
    'encoder_speed': ('encoder_speed', True,
                      'encoder latency, start-up, memory in Chromium vs transformers.js, ORT'),
    'model_variants': ('model_variants', True,
                       'INT8 encoder files (fused or not, signed or unsigned weights) in Chromium'),
    'wasm_levers': ('wasm_levers', False,
                    'WASM encoder variants (static INT8, fewer layers, ORT format) in Chromium'),
    'webgpu_device': ('webgpu_device', False,
                      'WebGPU files on a real GPU (python -m bench.webgpu_device prepare|report)'),
    'fl_simulation': ('fl_simulation', True,
                      'federated rounds vs centralised; int8 vs float deltas; bytes per update'),
    'fl_load': ('fl_load', True, '50 clients posting updates to gunicorn, SQLite and PostgreSQL'),
    'gossip_simulation': ('gossip_simulation', True,
                          'peer-to-peer push-sum gossip vs server FedAvg, churn, a x10 peer'),
    'sms_python': ('sms_python', True,
                   'python -m tinybert on SMS spam: held-out accuracy, native rows/s'),
    'api_frameworks': ('api_frameworks', False,
                       'per-request cost of APIFlask, flask-smorest, spectree vs plain Flask'),
    'sms_page': ('sms_page', True,
                 'SMS spam imported and trained in the page: accuracy, rows/s, file to head'),
    'secure_aggregation': ('secure_aggregation', True, 'SecAgg: server CPU, bytes, accuracy'),
    'dp_accuracy': ('dp_accuracy', True,
                    'accuracy vs epsilon of the private prototype head, both DP modes'),
    'dp_rounds': ('dp_rounds', False,
                  'accuracy vs epsilon of DP-FedAvg and DP-SGD over 10 rounds (not used)'),
    'poisoning': ('poisoning', False,
                  '10/20 % attackers (scaled, sign-flipped, label-flipped) vs each aggregator'),
}


def usage():
    lines = ['usage: python -m bench [name ...]', 'benchmarks:']
    for name, (_, default, summary) in BENCHMARKS.items():
        lines.append('  %-10s %s%s' % (name, summary, '' if default else ' [only by name]'))
    return '\n'.join(lines)


def main(argv):
    if any(a in ('-h', '--help') for a in argv):
        print(usage())
        return 0
    names = argv or [n for n, (_, default, _) in BENCHMARKS.items() if default]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print('unknown benchmark %s\n%s' % (', '.join(unknown), usage()), file=sys.stderr)
        return 2
    for name in names:
        print('== bench %s' % name, flush=True)
        importlib.import_module('bench.' + BENCHMARKS[name][0]).run()
    return 0


if __name__ == '__main__':   # the guard matters: embedding workers re-import this module
    sys.exit(main(sys.argv[1:]))
