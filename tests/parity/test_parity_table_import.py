"""Labelled-file import, hold-out split and per-label report: CPython against the transpiled
modules in Node, on the tricky inputs of the CPython tests."""
import numpy as np

from tests.core.test_table_import import BAD_UTF8, JSONL, TRICKY_CSV, labels_text
from tests.support.parity import is_error, run_js_many, run_py_many
from tinybert_core.table_parse import read_table

RNG = np.random.default_rng(17)


def both(module, target, cases):
    return run_py_many(module, target, cases), run_js_many(module, target, cases)


REFUSED_TEXT = [
    '{"text": "a"}\n{"text": oops}\n',
    '[{"a": 1}, 3]',
    '[{"a": 1},',
    'text,label\n"never closed,x\nmore,y\n',
    'text,label\nok,a\x00b\n',
    'text,label\nok,a\n\nbad\ufffd,b\n',
]
JSON_TEXT = [
    JSONL,
    '[{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]',
    '{"b": 1, "10": "ten", "2": "two", "a": -0.5, "__proto__": "p", "constructor": "c"}\n',
    '{"text": "big", "n": 12345678901, "e": 1e-7, "nested": {"k": [true, null, 2.0]}}\n',
    '{"numbers": [1e-5, -2.5e-6, 1.5e-7, 1e21, 1.2345e22, 0.1, 5e-324, -0.0, 3.0, 1e-6]}\n',
]


def test_read_table_is_identical():
    cases = [[t, None] for t in TRICKY_CSV + JSON_TEXT + REFUSED_TEXT]
    cases += [[TRICKY_CSV[1], 'tsv'], ['a\tb\n1\t2\n', 'csv'], ['x', 'xml'],
              ['\ufefftext,label\n\u00a0a\u3000,b\n', None], ['', None], ['   \n', 'jsonl']]
    py, js = both('tinybert_core.table_parse', 'read_table', cases)
    assert py == js
    assert sum(1 for r in py if is_error(r)) == len(REFUSED_TEXT) + 1


def test_decode_text_is_identical():
    cases = [['\ufefftext,label\n'.encode(), None], [b'', None],
             ['text,label\nd\xe9j\xe0 vu,a\n'.encode('latin-1'), None],
             ['text,label\n'.encode('utf-16'), None], [b'PK\x03\x04rest', None],
             ['é🙂 日本'.encode(), None], [b'x' * 20, 10]]
    cases += [[data, None] for data in BAD_UTF8]
    py, js = both('tinybert_core.text_file', 'decode_text', cases)
    assert py == js
    assert not is_error(py[5]) and py[5] == 'é🙂 日本'


def test_first_invalid_utf8_is_identical():
    cases = [[data] for data in BAD_UTF8]
    cases += [[bytes(RNG.integers(0x7E, 0x100, size=8).tolist())] for _ in range(200)]
    py, js = both('tinybert_core.text_file', 'first_invalid_utf8', cases)
    assert py == js


def tables():
    texts = [
        'text,label\n hello ,a\nhello,a\nworld,b\nboth,a\n,b\nboth,b\nno label, \nlast,c\n',
        'id,Message,Category\n1,hi there,x\n2,hello you,y\n',
        'a,b,c\n1,x,a longer text\n2,y,another longer text\n3,y,more text\n',
        'text,label\n' + 'x,a\n' * 30 + 'y,b\n',
        labels_text(51),
        'text,label\na,spam\nb,spam\n',
        'text\nhello\n',
        'text,label\n',
        'text,label\na,%s\nb,y\n' % ('z' * 61),
        'text,label\nconstructor,__proto__\nhasOwnProperty,toString\nvalueOf,__proto__\n',
        JSONL,
    ]
    return [read_table(t, None) for t in texts]


def test_labelled_rows_are_identical():
    cases = [[t, None, None, None, None] for t in tables()]
    cases += [[tables()[0], 'txt', None, None, None], [tables()[0], 'text', 'text', None, None],
              [tables()[4], None, None, 60, None], [tables()[2], 'c', 'a', 3, None],
              [tables()[5], None, None, None, 1]]
    py, js = both('tinybert_core.table_import', 'labelled_rows', cases)
    assert py == js
    assert py[0]['conflicts'] == {'count': 2, 'lines': [5, 7]}
    assert py[9]['labels'] == ['__proto__', 'toString']


def test_guessing_texts_and_export_are_identical():
    py, js = both('tinybert_core.table_import', 'guess_columns', [[t] for t in tables()])
    assert py == js
    py, js = both('tinybert_core.table_import', 'column_texts',
                  [[tables()[1], None], [tables()[1], 'id'], [tables()[6], None],
                   [tables()[7], None], [tables()[2], 'nope']])
    assert py == js
    rows = [['plain', 'a'], ['a, comma', 'b'], ['say "hi"', 'a'], ['two\r\nlines', 'b'],
            ['émoji 🙂', 'c']]
    py, js = both('tinybert_core.table_import', 'examples_csv', [[rows], [[]]])
    assert py == js


def test_holdout_split_and_report_are_identical():
    ys = RNG.integers(0, 4, size=150).tolist() + [4]
    cases = [[ys, 5, 0.2, 0], [ys, 5, 0.35, 7], [[0, 1] * 3, 2, 0.5, 1], [ys, 5, 1, 0],
             [ys, 5, '0.2', 0], [[0, 5], 2, 0.2, 0]]
    py, js = both('tinybert_core.metrics', 'holdout_split', cases)
    assert py == js
    m = [[5, 1, 0], [2, 0, 0], [0, 3, 0]]
    py, js = both('tinybert_core.metrics', 'per_label_report', [[m, ['a', 'b', 'c']]])
    assert py == js
