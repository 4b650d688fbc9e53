"""Parity of src_py/tinybert_core/tokenizer.py transpiled by Transcrypt (run in Node) with CPython.

The tokenizer.json object reaches the transpiled code through JSON.parse, exactly as in the
browser, and every comparison runs the whole case list in one Node process
(``tests/support/parity.py``).
"""
import copy
import shutil

import pytest

from tests.support.parity import is_error, ref, run_js_many, run_py_many
from tests.support.tokenizer_reference import (
    VARIANTS,
    hf_view,
    load_corpus,
    load_tokenizer_json,
    ref_ids,
    reference,
    sweep_strings,
)

pytestmark = pytest.mark.skipif(shutil.which('node') is None, reason='node is not installed')

MODULE = 'tinybert_core.tokenizer'


def setup_steps(obj, max_length):
    return [('cfg', 'config_from_tokenizer_json', [obj, max_length]),
            ('tok', 'Tokenizer', [ref('cfg')])]


@pytest.fixture(scope='module')
def tj():
    return load_tokenizer_json()


@pytest.fixture(scope='module')
def corpus():
    return load_corpus()


def first_differences(a, b, texts):
    bad = [i for i in range(len(texts)) if a[i] != b[i]]
    return bad, [(texts[i][:60], a[i] if is_error(a[i]) else a[i][:10], b[i][:10])
                 for i in bad[:5]]


@pytest.mark.parametrize('max_length', [None, 128])
def test_corpus_ids_identical_in_node(tj, corpus, max_length):
    cases = [[s] for s in corpus]
    steps = setup_steps(tj, max_length)
    js = run_js_many(MODULE, 'tok.encode', cases, steps)
    py = run_py_many(MODULE, 'tok.encode', cases, steps)
    assert len(js) == len(py) == len(corpus)
    bad, examples = first_differences(js, py, corpus)
    assert len(bad) == 0, '%d of %d differ, e.g. %r' % (len(bad), len(corpus), examples)
    if max_length is None:
        # And therefore equal to the reference (the CPython side is checked against it too).
        refs = ref_ids(reference(tj), corpus)
        bad, examples = first_differences(js, refs, corpus)
        assert len(bad) == 0, '%d differ from the reference, e.g. %r' % (len(bad), examples)


def test_tokenizer_from_json_config(tj, corpus):
    """A config that went through JSON (e.g. stored, or sent to a worker) works the same."""
    cfg = run_py_many(MODULE, 'config_from_tokenizer_json', [[tj, 64]])[0]
    cases = [[s] for s in corpus[::50]]
    steps = [('tok', 'Tokenizer', [cfg])]
    js = run_js_many(MODULE, 'tok.encode', cases, steps)
    assert js == run_py_many(MODULE, 'tok.encode', cases, setup_steps(tj, 64))


def test_unicode_sweep_in_node_matches_reference(tj):
    texts = sweep_strings()
    js = run_js_many(MODULE, 'tok.encode', [[s] for s in texts], setup_steps(tj, None))
    bad, examples = first_differences(js, ref_ids(reference(tj), texts), texts)
    assert len(bad) == 0, '%d of %d differ, e.g. %r' % (len(bad), len(texts), examples)


def test_encode_batch_identical(tj, corpus):
    batches = [
        [corpus[0], corpus[1], corpus[2]],
        ['', 'Hello world!', 'a\ud800b', '\U0001F600 emoji', '[CLS] literal'],
        corpus[100:132],
        corpus[len(corpus) - 40:],
        [],
    ]
    cases = [[b] for b in batches]
    steps = setup_steps(tj, 128)
    js = run_js_many(MODULE, 'tok.encode_batch', cases, steps)
    py = run_py_many(MODULE, 'tok.encode_batch', cases, steps)
    assert js == py
    for b, out in zip(batches, js):
        assert len(out['input_ids']) == len(b) == len(out['attention_mask'])


def test_tokenize_identical(tj, corpus):
    cases = [[s] for s in corpus[::11]]
    steps = setup_steps(tj, None)
    assert run_js_many(MODULE, 'tok.tokenize', cases, steps) == \
        run_py_many(MODULE, 'tok.tokenize', cases, steps)


def test_errors_identical(tj):
    steps = setup_steps(tj, 128)
    cases = [[None], [5], [True], [['a']], [{'a': 1}]]
    js = run_js_many(MODULE, 'tok.encode', cases, steps)
    py = run_py_many(MODULE, 'tok.encode', cases, steps)
    assert js == py
    for r in js:
        assert is_error(r) and r['__error__']['type'] == 'TypeError'
    js = run_js_many(MODULE, 'tok.encode_batch', [['text'], [[1]]], steps)
    assert all(is_error(r) and r['__error__']['type'] == 'TypeError' for r in js)


def test_config_identical(tj):
    bad = copy.deepcopy(tj)
    bad['pre_tokenizer'] = {'type': 'Whitespace'}
    cases = [[tj, 128], [tj, None], [bad, 128]]
    js = run_js_many(MODULE, 'config_from_tokenizer_json', cases)
    py = run_py_many(MODULE, 'config_from_tokenizer_json', cases)
    assert js == py
    assert is_error(js[2]) and js[2]['__error__']['type'] == 'ValueError'
    assert 'BertPreTokenizer' in js[2]['__error__']['message']


def test_normalizer_options_in_node(tj, corpus):
    texts = corpus[::9] + sweep_strings(211)[::5]
    cases = [[s] for s in texts]
    for variant in VARIANTS:
        obj = copy.deepcopy(tj)
        obj['normalizer'].update(variant)
        js = run_js_many(MODULE, 'tok.encode', cases, setup_steps(obj, None))
        bad, examples = first_differences(js, ref_ids(reference(obj), texts), texts)
        assert len(bad) == 0, '%r: %d differ, e.g. %r' % (variant, len(bad), examples)


def test_hf_view_is_what_node_strings_hold():
    # The reference view of a string with lone surrogates is what the Node side decodes.
    assert hf_view('a\ud800b') == 'a\ufffdb'
    assert hf_view('\ud83d\ude00') == '\U0001F600'


def test_javascript_property_names_are_plain_words(tj):
    """Words and vocabulary entries that are also JavaScript/Transcrypt property names."""
    obj = copy.deepcopy(tj)
    obj['normalizer']['lowercase'] = False
    obj['added_tokens'] = []
    names = ['hasOwnProperty', 'constructor', 'toString', 'valueOf', '##String', '##s',
             'isPrototypeOf', 'keys', 'items', 'get', 'py_get', '__proto__', '__class__',
             'length', 'prototype', '##Property']
    vocab = {'[PAD]': 0, '[UNK]': 1, '[CLS]': 2, '[SEP]': 3, '_': 4}
    for n in names:
        vocab[n] = len(vocab)
    for c in 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ':
        vocab[c] = len(vocab)
        vocab['##' + c] = len(vocab)
    obj['model']['vocab'] = vocab
    obj['post_processor'] = {'type': 'BertProcessing', 'sep': ['[SEP]', 3],
                             'cls': ['[CLS]', 2]}
    obj['padding'] = None
    texts = ['hasOwnProperty constructor toString valueOf keys get items length',
             'hasOwnPropertys constructors __proto__ __class__ py_get prototype',
             'hasOwn hasOwnProperty', 'toStringString isPrototypeOf', 'popitem setdefault',
             'fromkeys copy update values clear pop del', 'hasOwnProperty' * 3]
    cases = [[t] for t in texts]
    steps = setup_steps(obj, None)
    js = run_js_many(MODULE, 'tok.encode', cases, steps)
    assert js == run_py_many(MODULE, 'tok.encode', cases, steps)
    assert js == ref_ids(reference(obj), texts)


def test_missing_max_length_means_no_truncation(tj):
    """config_from_tokenizer_json(obj) called from JavaScript without max_length."""
    text = 'word ' * 300
    steps = [('cfg', 'config_from_tokenizer_json', [tj]), ('tok', 'Tokenizer', [ref('cfg')])]
    js = run_js_many(MODULE, 'tok.encode', [[text]], steps)[0]
    assert len(js) == 302
