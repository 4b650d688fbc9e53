"""Sentence embeddings for the benchmarks, from the product's built INT8 encoder, cached on disk.

Same pipeline as the page: the shipped tokenizer, truncation to the manifest's max_length
(keeping [SEP]), one text per run (batch 1, no padding), mean pooling over the mask, L2
normalisation. Embeddings are cached in ``.cache/bench/embeddings-<source>-<model sha>.npy``
with the list of texts beside them (``.texts.json``), so a changed model never reuses stale
vectors.
"""
import hashlib
import json
import multiprocessing
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, 'public', 'model')
CACHE = os.path.join(REPO, '.cache', 'bench')


def manifest():
    """The built model's manifest.json (raises FileNotFoundError naming `make model`)."""
    path = os.path.join(MODEL, 'manifest.json')
    if not os.path.exists(path):
        raise FileNotFoundError('public/model/manifest.json not found: run `make model` first')
    with open(path, encoding='utf-8') as f:
        return json.load(f)


# Another encoder file for the same model (a pruned variant: bench/wasm_levers.py --learning).
ENCODER_OVERRIDE = 'TINYBERT_BENCH_ENCODER'


def encoder_path():
    """The encoder file embedded with: the shipped one, or $TINYBERT_BENCH_ENCODER."""
    override = os.environ.get(ENCODER_OVERRIDE)
    return override or os.path.join(MODEL, manifest()['encoder_file'])


def model_sha():
    """Short sha256 of the encoder file, as recorded in the manifest (or computed for an
    override)."""
    override = os.environ.get(ENCODER_OVERRIDE)
    if override:
        with open(override, 'rb') as f:
            return hashlib.sha256(f.read()).hexdigest()[:12]
    m = manifest()
    return m['files'][m['encoder_file']]['sha256'][:12]


_worker = {}


def _init_worker():
    import onnxruntime as ort
    from tokenizers import Tokenizer
    m = manifest()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    _worker['session'] = ort.InferenceSession(encoder_path(), opts,
                                              providers=['CPUExecutionProvider'])
    tok = Tokenizer.from_file(os.path.join(MODEL, 'tokenizer.json'))
    tok.no_truncation()
    tok.no_padding()
    with open(os.path.join(MODEL, 'special_tokens_map.json'), encoding='utf-8') as f:
        special = json.load(f)
    _worker['tok'] = tok
    _worker['sep'] = tok.token_to_id(special['sep_token'])
    _worker['max_length'] = m['max_length']


def _embed_one(text):
    ids = _worker['tok'].encode(text).ids
    limit = _worker['max_length']
    if len(ids) > limit:
        ids = ids[:limit - 1] + [_worker['sep']]
    input_ids = np.asarray([ids], dtype=np.int64)
    mask = np.ones_like(input_ids)
    hidden = _worker['session'].run(None, {'input_ids': input_ids, 'attention_mask': mask})[0]
    vec = hidden[0].mean(axis=0).astype(np.float32)
    return vec / np.linalg.norm(vec)


def _embed_all(texts, processes):
    with multiprocessing.get_context('spawn').Pool(processes, _init_worker) as pool:
        rows = []
        start = time.time()
        for i, vec in enumerate(pool.imap(_embed_one, texts, chunksize=32)):
            rows.append(vec)
            if (i + 1) % 2000 == 0:
                print('  embedded %d/%d (%.0f s)' % (i + 1, len(texts), time.time() - start),
                      file=sys.stderr, flush=True)
    return np.stack(rows).astype(np.float32)


def embeddings(source, texts, processes=None):
    """float32 [len(texts), hidden] unit rows for ``texts``, computed once per source and model.

    ``texts`` must be a subset of what the cache for ``source`` holds, or the cache is rebuilt
    for exactly ``texts``.
    """
    os.makedirs(CACHE, exist_ok=True)
    base = os.path.join(CACHE, 'embeddings-%s-%s' % (source, model_sha()))
    cached = None
    if os.path.exists(base + '.npy') and os.path.exists(base + '.texts.json'):
        with open(base + '.texts.json', encoding='utf-8') as f:
            known = json.load(f)
        index = {t: i for i, t in enumerate(known)}
        if all(t in index for t in texts):
            cached = np.load(base + '.npy')
            return cached[[index[t] for t in texts]]
    print('embedding %d texts of %s with the INT8 encoder ...' % (len(texts), source),
          file=sys.stderr, flush=True)
    vectors = _embed_all(list(texts), processes or max(1, min(2, os.cpu_count() or 1)))
    np.save(base + '.npy', vectors)
    with open(base + '.texts.json', 'w', encoding='utf-8') as f:
        json.dump(list(texts), f)
    return vectors


def texts_digest(texts):
    """sha256 of the texts, to record which rows a result was computed on."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode('utf-8'))
        h.update(b'\0')
    return h.hexdigest()[:12]
