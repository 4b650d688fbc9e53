"""Benchmarks: ``python -m bench [name ...]`` (see ``bench/__main__.py``)."""
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, 'bench', 'results')


def progress_log():
    """A ``log(text)`` that prints ``text`` with the seconds since this call, at once."""
    import time
    start = time.perf_counter()

    def log(text):
        print('  [%4.0f s] %s' % (time.perf_counter() - start, text), flush=True)

    return log


def load_results(name):
    """The saved ``bench/results/<name>.json``, or None when there is none yet."""
    import json
    path = os.path.join(RESULTS, name + '.json')
    if not os.path.exists(path):
        return None
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def save_results(name, results, markdown_text):
    """Write ``bench/results/<name>.json`` and ``<name>.md``."""
    import json
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, name + '.json'), 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(RESULTS, name + '.md'), 'w', encoding='utf-8') as f:
        f.write(markdown_text)
