"""Labelled-file import under CPython: parsing against Python's csv and json modules, column
guessing, kept and left-out rows, and every refusal's message."""
import csv
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybert_core.table_import import (
    TableImportError,
    column_texts,
    examples_csv,
    guess_columns,
    labelled_rows,
)
from tinybert_core.table_parse import parse_delimited, read_table, sniff_delimiter, value_text
from tinybert_core.text_file import (
    TableError,
    check_size,
    decode_text,
    first_invalid_utf8,
    format_for_name,
    trim,
)

# Delimited inputs where quoting, line ends and blank lines matter.
TRICKY_CSV = [
    'text,label\r\n"hi, there",a\r\nyo,b\r\n',
    'text,label\n"two\nlines",a\n"crlf\r\ninside",b\n',
    'a\rb\r\nc\n',
    '\n\na,b\n\n\nc,d\n\n',
    '""\n',
    'a,"x""y"\n',
    'a, "b"\n',
    'a,b"c"\n',
    'a,"b"c,d\r\n',
    'a,"b" ,c',
    'x,""""',
    'a,\n,\n',
    '"a"b"c",d\n',
    'a,b,c',
    'é,日本語,🙂 emoji\r\n',
    '"",""\n,\n',
    'a\r\r\nb\n',
    'text;label\n"semi;colon";x\n',
    'text\tlabel\n"tab\tinside"\tx\nplain "quote"\ty\n',
]


def python_rows(text, delimiter):
    """What csv.reader makes of ``text``, without the [] rows it gives for blank lines."""
    return [row for row in csv.reader(io.StringIO(text, newline=''), delimiter=delimiter)
            if row != []]


@pytest.mark.parametrize('text', TRICKY_CSV)
def test_delimited_records_match_pythons_csv(text):
    delimiter = sniff_delimiter(text)
    assert parse_delimited(text, delimiter)['records'] == python_rows(text, delimiter)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='ab ,;\t"\r\n', max_size=40))
def test_any_text_over_a_small_alphabet_matches_pythons_csv(text):
    try:
        ours = parse_delimited(text, ',')['records']
    except TableError as error:
        # Refused only where a quote is never closed; csv swallows the rest of the file.
        assert 'never closed' in str(error)
        return
    assert ours == python_rows(text, ',')


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(max_size=12).filter(lambda s: '\x00' not in s), min_size=1,
                         max_size=4), max_size=6),
       st.sampled_from(['\r\n', '\n']), st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
def test_what_pythons_csv_writes_reads_back(rows, terminator, quoting):
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator, quoting=quoting).writerows(rows)
    expected = python_rows(out.getvalue(), ',')
    assert parse_delimited(out.getvalue(), ',')['records'] == expected


def test_record_lines_are_where_records_start():
    parsed = parse_delimited('h1,h2\n"a\nb",1\r\nc,2\r\r\n\nd,3', ',')
    assert parsed['lines'] == [1, 2, 4, 7]


def test_table_header_padding_and_malformed_rows():
    table = read_table('text,label,\nfine,a,\nshort\n"x",y,extra,more\nok,b,,  \n', None)
    assert table['columns'] == ['text', 'label', 'column 3']
    assert table['records'] == [['fine', 'a', ''], ['short', '', ''], ['ok', 'b', '']]
    assert table['malformed'] == {'count': 1, 'lines': [4]}
    assert read_table('a,a,,a\n1,2,3,4\n', 'csv')['columns'] == ['a', 'a (2)', 'column 3',
                                                               'a (3)']


def test_format_and_delimiter():
    assert [format_for_name(n) for n in ['x.CSV', 'a.tsv', 'b.tab', 'c.jsonl', 'd.ndjson',
                                         'e.json', 'f.txt']] == \
        ['csv', 'tsv', 'tsv', 'jsonl', 'jsonl', 'jsonl', None]
    assert read_table('a;b\n1;2\n', None)['delimiter'] == ';'
    assert read_table('a\tb\tc,d\n1\t2\t3,4\n', None)['format'] == 'tsv'
    assert read_table('a\tb\n', 'tsv')['columns'] == ['a', 'b']
    assert read_table('  {"a": 1}\n', None)['format'] == 'jsonl'
    with pytest.raises(TableError, match="Unknown file format 'xml'; allowed: csv, tsv, jsonl"):
        read_table('a', 'xml')


JSONL = ('{"text": "one", "label": "x", "score": 0.5}\n'
         '\n'
         '{"label": 2, "text": "two", "flag": true, "none": null, "2": [1, {"a": "b"}]}\r\n'
         '{"text": "three", "label": 1.0, "0": "zero"}\n')


def test_json_lines_against_the_json_module():
    table = read_table(JSONL, None)
    objects = [json.loads(line) for line in JSONL.splitlines() if line.strip()]
    # Each object's keys in JavaScript's order (array indices first), then first appearance.
    names = list(dict.fromkeys(k for o in objects for k in
                               sorted((k for k in o if k.isdigit()), key=int)
                               + [k for k in o if not k.isdigit()]))
    assert names == ['text', 'label', 'score', '2', 'flag', 'none', '0']
    assert table['columns'] == names
    assert table['lines'] == [1, 3, 4]
    for obj, record in zip(objects, table['records']):
        assert record == [value_text(obj.get(name)) for name in names]
    assert table['records'][1][names.index('2')] == '[1,{"a":"b"}]'
    assert [value_text(v) for v in [None, True, False, 1.0, 2, -0.25, 'é', 10 ** 20]] == \
        ['', 'true', 'false', '1', '2', '-0.25', 'é', '100000000000000000000']


def test_a_json_array_of_objects_is_read_too():
    table = read_table('[{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]', 'jsonl')
    assert table['records'] == [['a', 'x'], ['b', 'y']] and table['lines'] == [1, 2]


@pytest.mark.parametrize('text, message', [
    ('{"text": "a"}\n{"text": oops}\n', 'Line 2 is not a JSON object'),
    ('{"a": 1}\n[1, 2]\n', 'Line 2 is not a JSON object'),
    ('[{"a": 1}, 3]', 'Item 2 of the JSON array is not an object'),
    ('[{"a": 1},', 'starts like a JSON array but is not valid JSON'),
    ('text,label\n"never closed,x\nmore,y\n', 'starts on line 2 is never closed'),
    ('text,label\nok,a\x00b\n', r'NUL characters \(line 2\)'),
    ('text,label\nok,a\n\nbad\ufffd,b\n', r'replacement character \ufffd \(line 4\)'),
])
def test_unreadable_text_is_refused_with_the_line(text, message):
    with pytest.raises(TableError, match=message):
        read_table(text, None)


def test_decode_text_drops_a_bom_and_refuses_what_is_not_utf8():
    assert decode_text('\ufefftext,label\n'.encode(), None) == 'text,label\n'
    assert decode_text(b'', None) == ''
    with pytest.raises(TableError, match=r'not UTF-8 text at line 2 \(byte 13, 0xE9\)'):
        decode_text('text,label\nd\xe9j\xe0 vu,a\n'.encode('latin-1'), None)
    with pytest.raises(TableError, match='UTF-16 text'):
        decode_text('text,label\n'.encode('utf-16'), None)
    with pytest.raises(TableError, match='zip file'):
        decode_text(b'PK\x03\x04rest', None)
    with pytest.raises(TableError, match='The file is 50.0 MB; files of at most 50.0 MB') \
            as error:
        decode_text(b'a' * 50_000_001, None)
    assert 'import again' in str(error.value)
    check_size(50_000_000, None)
    with pytest.raises(TableError, match='The file is 0.0 MB; files of at most 0.0 MB'):
        check_size(11, 10)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=12))
def test_first_invalid_utf8_is_where_python_stops(data):
    try:
        data.decode('utf-8')
        expected = -1
    except UnicodeDecodeError as error:
        expected = error.start
    assert first_invalid_utf8(data) == expected


BAD_UTF8 = [b'\xc0\xaf', b'\xe0\x80\xaf', b'\xed\xa0\x80', b'\xf4\x90\x80\x80',
            b'\xf8\x88\x80\x80\x80', b'ok\xe2\x82', b'\xf0\x9f\x99\x82x']


@pytest.mark.parametrize('data', BAD_UTF8)
def test_first_invalid_utf8_on_overlong_surrogate_and_truncated_sequences(data):
    try:
        data.decode('utf-8')
        expected = -1
    except UnicodeDecodeError as error:
        expected = error.start
    assert first_invalid_utf8(data) == expected


def test_trim_is_a_fixed_set():
    assert trim(' \t\u00a0\ufeffa b\u3000\r\n') == 'a b'
    assert trim('\x1ca\x85') == '\x1ca\x85'   # str.strip would remove these


# --- columns and rows ---------------------------------------------------------------------

def table_of(text):
    return read_table(text, None)


@pytest.mark.parametrize('header, text, label, by', [
    ('id,Message,Category', 'Message', 'Category', ['name', 'name']),
    ('LABEL,sentence', 'sentence', 'LABEL', ['name', 'name']),
    ('a,b,c', 'c', 'b', ['longest', 'fewest values']),
    ('text,kind,id', 'text', 'kind', ['name', 'fewest values']),
    ('body,class,text', 'text', 'class', ['name', 'name']),
])
def test_guess_columns(header, text, label, by):
    rows = '\n'.join('%d,%s,%s' % (i, 'xy'[i % 2], 'a longer text number %d' % i)
                     for i in range(6))
    if header == 'LABEL,sentence':
        rows = '\n'.join('%s,text %d' % ('xy'[i % 2], i) for i in range(6))
    if header == 'text,kind,id':
        rows = '\n'.join('text %d,%s,%d' % (i, 'xy'[i % 2], i) for i in range(6))
    guess = guess_columns(table_of(header + '\n' + rows + '\n'))
    assert [guess['text'], guess['label']] == [text, label]
    assert [guess['text_by'], guess['label_by']] == by


def test_a_constant_column_is_not_the_guessed_label():
    table = table_of('a,b,c\nsame,x,long text one\nsame,y,long text two\n')
    assert guess_columns(table)['label'] == 'b'


def test_rows_duplicates_conflicts_and_empty_rows():
    text = ('text,label\n'
            ' hello ,a\n'        # 2 kept (trimmed)
            'hello,a\n'          # 3 duplicate
            'world,b\n'          # 4 kept
            'both,a\n'           # 5 conflict
            ',b\n'               # 6 empty text
            'both,b\n'           # 7 conflict
            'no label, \n'       # 8 empty label
            'both,a\n'           # 9 conflict
            'last,c\n')          # 10 kept
    result = labelled_rows(table_of(text), None, None, None, None)
    assert result['rows'] == [['hello', 'a'], ['world', 'b'], ['last', 'c']]
    assert result['lines'] == [2, 4, 10]
    assert result['labels'] == ['a', 'b', 'c'] and result['counts'] == [1, 1, 1]
    assert result['duplicates'] == {'count': 1, 'lines': [3]}
    assert result['conflicts'] == {'count': 3, 'lines': [5, 7, 9]}
    assert result['empty'] == {'count': 2, 'lines': [6, 8]}
    assert result['records'] == 9
    assert result['text_column'] == 'text' and result['label_column'] == 'label'


def test_reported_lines_are_capped_but_counts_are_not():
    text = 'text,label\nx,a\ny,b\n' + 'x,a\n' * 25
    assert labelled_rows(table_of(text), None, None, None, None)['duplicates'] == \
        {'count': 25, 'lines': list(range(4, 14))}


def labels_text(n):
    return 'text,label\n' + ''.join('text %d,label %d\n' % (i, i) for i in range(n))


@pytest.mark.parametrize('text, columns, message', [
    ('', [None, None], 'The file has no rows. Add one row'),
    ('text,label\n', [None, None], 'The file has no rows below its header.'),
    ('text\nhello\n', [None, None], "The file has one column ('text'); it needs a text "
                                    "column and a label column."),
    ('text,label\na,b\n', ['txt', None], "There is no text column 'txt'. Columns found: "
                                         "'text', 'label'."),
    ('text,label\na,b\n', [None, 'Label'], "There is no label column 'Label'."),
    ('text,label\na,b\n', ['text', 'text'], "cannot both be column 'text'"),
    ('text,label\n,a\nb,\n', [None, None], "No row has both a text (column 'text') and a "
                                           "label (column 'label')."),
    ('text,label\na,spam\nb,spam\n', [None, None], "Every row has the label 'spam'. A "
                                                   "classifier needs examples of at least two "
                                                   "labels"),
    (labels_text(51), [None, None], "The label column 'label' has 51 different values; at "
                                    "most 50 labels can be trained. Is this really the label "
                                    "column? Columns found: 'text', 'label'."),
    ('text,label\na,%s\nb,y\n' % ('z' * 61), [None, None], 'longer than 60 characters'),
])
def test_refusals_say_what_to_do(text, columns, message):
    with pytest.raises(TableImportError) as error:
        labelled_rows(table_of(text), columns[0], columns[1], None, None)
    assert message in str(error.value)


def test_label_limit_is_a_parameter():
    assert len(labelled_rows(table_of(labels_text(51)), None, None, 60, None)['labels']) == 51
    with pytest.raises(TableImportError, match='has 3 different values; at most 2'):
        labelled_rows(table_of(labels_text(3)), None, None, 2, None)


def test_one_label_is_enough_when_asked_for():
    result = labelled_rows(table_of('text,label\na,spam\nb,spam\n'), None, None, None, 1)
    assert result['labels'] == ['spam'] and result['counts'] == [2]


def test_column_texts():
    table = table_of('id,text\n1, a \n2,\n3,b\n')
    assert column_texts(table, None) == ['a', 'b']
    assert column_texts(table, 'id') == ['1', '2', '3']
    assert column_texts(table_of('only\nx\n'), None) == ['x']
    with pytest.raises(TableImportError, match="no text column 'nope'"):
        column_texts(table, 'nope')


def test_examples_csv_reads_back_as_the_same_rows():
    rows = [['plain', 'a'], ['a, comma', 'b'], ['say "hi"', 'a'], ['two\r\nlines', 'b'],
            ['émoji 🙂', 'c'], ['=1+1', 'a']]
    text = examples_csv(rows)
    assert text.startswith('text,label\r\n')
    assert list(csv.reader(io.StringIO(text, newline='')))[1:] == rows
    assert labelled_rows(read_table(text, None), None, None, None, None)['rows'] == rows
