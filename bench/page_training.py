"""In-page training time and storage sizes, measured in headless Chromium on the product page.

- Training: 60 labelled examples (20 per label, embeddings already cached, as after feedback),
  ``tinybert.train({epochs: 5})`` timed in the page; median of 20 runs after 3 s of warm-up.
  The call includes saving the working head to IndexedDB: the figure is what a user waits for.
- Sizes: the exported head (safetensors) for 384 x 3, and IndexedDB usage of 1,000 stored
  examples (short texts with their 384-float embeddings), from navigator.storage.estimate().

Writes bench/results/page_training.json and .md.
"""
import json
import os
import statistics
import time

from bench.browser import DIST, Browser, Server, chromium_version

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')
TEXTS = {
    'Dev': 'fix bug {} in the parser module and push the patch',
    'Meeting': 'meeting {} with the team about the quarterly roadmap',
    'Email': 'reply {} to the customer email about the invoice',
}
TIMED_TRAIN = """async () => {
  const t = performance.now();
  await window.tinybert.train({epochs: 5});
  return performance.now() - t;
}"""
IDB_USAGE = """async () => (await navigator.storage.estimate()).usageDetails.indexedDB || 0"""


def _add(page, per_label, offset):
    pairs = [[TEXTS[label].format(offset + i), label] for label in TEXTS for i in range(per_label)]
    page.evaluate("async pairs => { for (const [t, l] of pairs)"
                  " await window.tinybert.addExample(t, l); }", pairs)


def run(argv=None):
    from playwright.sync_api import sync_playwright

    with Server(DIST) as server, sync_playwright() as playwright:
        browser = Browser(playwright, server.url)
        try:
            page = browser.page()
            page.goto(server.url + '/')
            page.wait_for_function('() => window.tinybert !== undefined', timeout=180_000)
            _add(page, 20, 0)
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                page.evaluate(TIMED_TRAIN)
            train_ms = [page.evaluate(TIMED_TRAIN) for _ in range(20)]
            head_bytes = page.evaluate('async () => (await window.tinybert.exportHead()).length')
            saved = page.evaluate(
                "async () => { const before = (await navigator.storage.estimate())"
                ".usageDetails.indexedDB || 0; await window.tinybert.save('size');"
                " return before; }")
            before = page.evaluate(IDB_USAGE)
            _add(page, 334, 1000)   # 1,002 more examples
            after = page.evaluate(IDB_USAGE)
        finally:
            browser.close()
    result = {
        'chromium': chromium_version(),
        'train_5_epochs_60_examples_ms': {'median': statistics.median(train_ms),
                                          'min': min(train_ms), 'max': max(train_ms)},
        'exported_head_bytes_384x3': head_bytes,
        'indexeddb_bytes_per_1000_examples': round((after - before) / 1002 * 1000),
        'indexeddb_before_save': saved,
    }
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, 'page_training.json'), 'w') as f:
        json.dump(result, f, indent=2)
    md = ['# In-page training and storage', '',
          'Headless %s, WASM page, 60 cached examples (20 per label), 5 epochs; median of 20 '
          'after 3 s warm-up; includes saving the working head to IndexedDB.' % result['chromium'],
          '', '| measure | value |', '|---|---:|',
          '| train 5 epochs x 60 examples, median (min-max) | %.1f ms (%.1f-%.1f) |' % (
              result['train_5_epochs_60_examples_ms']['median'],
              result['train_5_epochs_60_examples_ms']['min'],
              result['train_5_epochs_60_examples_ms']['max']),
          '| exported head, 3 labels x 384 (safetensors) | %d bytes |' % head_bytes,
          '| IndexedDB growth per 1,000 examples (text + 384 float32) | %d bytes |'
          % result['indexeddb_bytes_per_1000_examples'], '']
    with open(os.path.join(RESULTS, 'page_training.md'), 'w') as f:
        f.write('\n'.join(md))
    print('\n'.join(md))
