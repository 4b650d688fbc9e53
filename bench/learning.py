"""Few-shot learning benchmark: ``python -m bench learning``.

Question: does the head trained by the page (``tinybert_core.train.train_head`` with its defaults,
the same Python module that is transpiled for the browser, run here under CPython) reach the
linear-probe ceiling with 20 examples per label in at most 5 epochs?

Protocol (``bench/protocol.py``): four real data sets fetched from public registry packages
(``bench/data.py``), de-duplicated, embedded with the product's INT8 encoder
(``bench/embed.py``); k = 5, 10, 20, 50 examples per label, 5 random draws, 1,000 held-out
rows per draw. The ceiling is scikit-learn LogisticRegression with C=1 (its default) on the
same embeddings; LogisticRegression with C chosen by cross-validation on the training examples
is reported beside it. SMS spam is also run with every non-test row for training.

Writes ``bench/results/learning.json``, ``learning.md`` and ``learning.png``.
"""
import json
import os
import platform
import time

import numpy as np

from bench import RESULTS, protocol
from tinybert_core.head import LinearHead
from tinybert_core.train import DEFAULTS, train_head

SETS = ['sms_spam', 'trec6', 'domain', 'polarity']
TITLES = {'sms_spam': 'SMS spam (2)', 'trec6': 'TREC-6 questions (6)',
          'domain': 'Sentence source: amazon/imdb/yelp (3)', 'polarity': 'Sentence polarity (2)'}
GOAL_SHOTS = 20
GOAL_GAP = -0.01          # product >= ceiling - 1 point at 20 shots, every set
GOAL_SMS_FULL = 0.97


def run_product(X, y, names, train, test, options=None):
    """Train the shipped head on X[train]; return (test accuracy, test accuracy of the initial
    head and after each epoch, seconds spent training)."""
    head = LinearHead(names, X.shape[1])
    xs = [list(map(float, X[i])) for i in train]
    ys = [int(y[i]) for i in train]
    Xt, yt = X[test], y[test]
    curve = []

    def on_epoch(entry):
        W = np.asarray(head.weights).reshape(len(names), -1)
        curve.append(float(((Xt @ W.T + np.asarray(head.bias)).argmax(axis=1) == yt).mean()))
        return None

    initial = LinearHead(names, X.shape[1])
    train_head(initial, xs, ys, dict(options or {}, epochs=0), None)
    W0 = np.asarray(initial.weights).reshape(len(names), -1)
    curve.append(float(((Xt @ W0.T + np.asarray(initial.bias)).argmax(axis=1) == yt).mean()))
    start = time.perf_counter()
    train_head(head, xs, ys, options, on_epoch)
    seconds = time.perf_counter() - start
    hits = sum(1 for i in test if head.predict_index(list(map(float, X[i]))) == int(y[i]))
    accuracy = hits / len(test)
    assert abs(accuracy - curve[len(curve) - 1]) < 1e-9, 'numpy and head.predict_index disagree'
    return accuracy, curve, seconds


def _stats(values):
    return {'mean': round(float(np.mean(values)), 4), 'std': round(float(np.std(values)), 4),
            'draws': [round(float(v), 4) for v in values]}


def few_shot(name):
    X, y, names = protocol.load_set(name)
    out = {'labels': names, 'rows': int(len(y)), 'shots': {}}
    for k in protocol.SHOTS:
        product, curves, lr_default, lr_cv, cs, secs = [], [], [], [], [], []
        for d in range(protocol.DRAWS):
            train, test = protocol.split(y, len(names), k, d)
            acc, curve, s = run_product(X, y, names, train, test)
            default, tuned, c = protocol.ceilings(X, y, train, test)
            product.append(acc)
            curves.append(curve)
            lr_default.append(default)
            lr_cv.append(tuned)
            cs.append(c)
            secs.append(s)
        row = {'product': _stats(product), 'ceiling_lr_c1': _stats(lr_default),
               'lr_cv': _stats(lr_cv), 'lr_cv_chosen_c': cs,
               'product_by_epoch': [round(float(v), 4) for v in np.mean(curves, axis=0)],
               'gap': round(float(np.mean(product) - np.mean(lr_default)), 4),
               'train_seconds_cpython': round(float(np.mean(secs)), 3)}
        out['shots'][str(k)] = row
        print('  %-9s k=%-3d product %.3f  ceiling %.3f  (LR-CV %.3f)  gap %+.3f' % (
            name, k, row['product']['mean'], row['ceiling_lr_c1']['mean'], row['lr_cv']['mean'],
            row['gap']), flush=True)
    return out


def sms_full():
    X, y, names = protocol.load_set('sms_spam')
    product, ceiling = [], []
    for d in range(protocol.DRAWS):
        train, test = protocol.split(y, len(names), None, d)
        product.append(run_product(X, y, names, train, test)[0])
        model = protocol.logistic_regression(X[train], y[train], 1.0)
        ceiling.append(float((model.predict(X[test]) == y[test]).mean()))
    out = {'train_rows': int(len(y) - protocol.TEST_ROWS), 'product': _stats(product),
           'ceiling_lr_c1': _stats(ceiling)}
    print('  sms_spam all rows: product %.3f  ceiling %.3f' % (out['product']['mean'],
                                                               out['ceiling_lr_c1']['mean']))
    return out


def training_speed():
    """Node and Chromium timing of the transpiled trainer (see bench/train_speed.py)."""
    from bench import train_speed
    return train_speed.measure()


def goals(results):
    at = {name: results['sets'][name]['shots'][str(GOAL_SHOTS)]['gap'] for name in SETS}
    full = results['sms_spam_all_rows']['product']['mean']
    return {'gap_at_%d_shots' % GOAL_SHOTS: at,
            'gap_goal': GOAL_GAP,
            'gap_goal_met': all(g >= GOAL_GAP for g in at.values()),
            'sms_all_rows': full, 'sms_all_rows_goal': GOAL_SMS_FULL,
            'sms_all_rows_goal_met': full >= GOAL_SMS_FULL}


def markdown(results):
    lines = ['# Few-shot learning: the page\'s head trainer vs the linear-probe ceiling', '',
             'Accuracy on 1,000 held-out rows, mean ± std over %d draws. Product: '
             '`tinybert_core.train.train_head` with its defaults %s (the module shipped to the '
             'browser, '
             'run under CPython). Ceiling: scikit-learn LogisticRegression, C=1. LR-CV: C chosen '
             'from %s by stratified CV on the training examples only. Embeddings: the product\'s '
             'INT8 all-MiniLM-L6-v2 (model sha %s), max %d tokens.' % (
                 protocol.DRAWS, json.dumps(results['options']), protocol.CS,
                 results['model_sha'], results['max_length']), '',
             '| set | k/label | product | ceiling (LR C=1) | gap | LR-CV | product: initial head, '
             'then after epochs 1..5 |',
             '|---|---|---|---|---|---|---|']
    for name in SETS:
        for k in protocol.SHOTS:
            r = results['sets'][name]['shots'][str(k)]
            lines.append('| %s | %d | %.3f ± %.3f | %.3f ± %.3f | %+.3f | %.3f | %s |' % (
                name, k, r['product']['mean'], r['product']['std'],
                r['ceiling_lr_c1']['mean'], r['ceiling_lr_c1']['std'], r['gap'],
                r['lr_cv']['mean'], ' '.join('%.3f' % v for v in r['product_by_epoch'])))
    full = results['sms_spam_all_rows']
    g = results['goals']
    lines += ['', 'SMS spam with all %d training rows: product %.3f ± %.3f, ceiling %.3f '
              '(goal ≥ %.2f: %s).' % (full['train_rows'], full['product']['mean'],
                                      full['product']['std'], full['ceiling_lr_c1']['mean'],
                                      GOAL_SMS_FULL,
                                      'met' if g['sms_all_rows_goal_met'] else 'NOT met'),
              '', 'Goal at %d shots, product ≥ ceiling − 1 point on every set: %s (%s).' % (
                  GOAL_SHOTS, 'met' if g['gap_goal_met'] else 'NOT met',
                  ', '.join('%s %+.3f' % kv for kv in g['gap_at_%d_shots' % GOAL_SHOTS].items()))]
    speed = results.get('training_speed') or {}
    lines += ['', 'Training speed of the transpiled `train_head`, defaults (5 epochs), 60 '
              'embeddings of dim 384, 3 labels; first call in a fresh process/page (cold JIT) '
              'and median / minimum of the next 29 calls (median of 5 processes/pages; '
              'machine: %s CPUs, load %s):' % (speed.get('machine', {}).get('cpus'),
                                              speed.get('machine', {}).get('load_average_1min')),
              '', '| runtime | first call | median | min |', '|---|---|---|---|']
    for name in ('node', 'chromium'):
        t = speed.get(name) or {}
        if 'median_ms' in t:
            lines.append('| %s %s | %.1f ms | %.2f ms | %.2f ms |' % (
                name, t.get(name, ''), t['first_ms'], t['median_ms'], t['min_ms']))
        else:
            lines.append('| %s | %s | | |' % (name, t.get('error', 'not measured')))
    lines += ['', '![accuracy vs shots](learning.png)', '']
    return '\n'.join(lines)


def plot(results, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    axes = axes.ravel()
    for ax, name in zip(axes, SETS):
        shots = results['sets'][name]['shots']
        ks = protocol.SHOTS
        for key, label, style in (('product', 'product (5 epochs)', 'o-'),
                                  ('ceiling_lr_c1', 'LogisticRegression C=1', 's--'),
                                  ('lr_cv', 'LogisticRegression CV C', '^:')):
            ax.errorbar(ks, [shots[str(k)][key]['mean'] for k in ks],
                        yerr=[shots[str(k)][key]['std'] for k in ks], fmt=style, capsize=3,
                        label=label)
        ax.set_xscale('log')
        ax.minorticks_off()
        ax.set_xticks(ks)
        ax.set_xticklabels([str(k) for k in ks])
        ax.set_xlabel('examples per label')
        ax.set_title(TITLES[name], fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel('held-out accuracy')
    axes[2].set_ylabel('held-out accuracy')
    axes[0].legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run():
    import sklearn
    start = time.time()
    manifest = protocol.embed.manifest()
    results = {'options': DEFAULTS, 'model_sha': protocol.embed.model_sha(),
               'max_length': manifest['max_length'],
               'protocol': {'draws': protocol.DRAWS, 'test_rows': protocol.TEST_ROWS,
                            'shots': protocol.SHOTS, 'lr_cv_grid': protocol.CS},
               'versions': {'python': platform.python_version(), 'numpy': np.__version__,
                            'scikit-learn': sklearn.__version__},
               'sets': {}}
    for name in SETS:
        results['sets'][name] = few_shot(name)
    results['sms_spam_all_rows'] = sms_full()
    results['training_speed'] = training_speed()
    results['goals'] = goals(results)
    results['seconds'] = round(time.time() - start, 1)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, 'learning.json'), 'w', encoding='utf-8') as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(RESULTS, 'learning.md'), 'w', encoding='utf-8') as f:
        f.write(markdown(results))
    plot(results, os.path.join(RESULTS, 'learning.png'))
    print(markdown(results))
    return results
