"""Generate ``src_py/tinybert_core/unicode_tables.py``: the Unicode data the browser tokenizer
needs.

The BERT tokenizer we must reproduce is Hugging Face ``tokenizers`` (Rust). Its Unicode
behaviour comes from Rust crates with their own Unicode versions (``char::is_whitespace``,
``char::to_lowercase``, ``unicode-normalization`` for NFD, ``unicode_categories`` for the
"other" and punctuation classes), which differ from Python's ``unicodedata`` and from the
JavaScript engine's regex tables. So instead of deriving the tables from ``unicodedata`` we
measure them on the reference itself: every code point (surrogates excluded) is passed
through each ``tokenizers`` component configured to do exactly one thing, and the results are
stored as plain integer lists that CPython and Transcrypt import identically.

Usage (from the repository root, with ``tokenizers`` installed)::

    python tools/gen_unicode_tables.py [output.py]

Tables written (ranges are flat lists ``[first0, last0, first1, last1, ...]``, inclusive,
sorted; maps are flat lists ``[cp, n, out_1 .. out_n, cp, n, ...]`` sorted by cp):

- ``CONTROL``   removed by ``clean_text`` (NUL, U+FFFD and the "other" categories Cc/Cf/Cn/Co
  as the reference sees them, minus tab/newline/carriage return)
- ``CLEAN_WS``  replaced by a space by ``clean_text``
- ``CJK``       surrounded by spaces by ``handle_chinese_chars``
- ``MN``        removed by ``strip_accents`` (nonspacing marks, also after NFD)
- ``STRIP_MAP`` other results of ``strip_accents`` (NFD minus nonspacing marks), Hangul
  syllables excluded (they are decomposed algorithmically by the tokenizer)
- ``LOWER_MAP`` per-character lowercase (``char::to_lowercase``, no context rules)
- ``SPLIT_WS``  whitespace for the BERT pre-tokenizer (split and removed)
- ``PUNCT``     punctuation for the BERT pre-tokenizer (isolated)
"""
import os
import sys
import unicodedata

from tokenizers import normalizers, pre_tokenizers

MAX_CP = 0x10FFFF
S_BASE, S_COUNT = 0xAC00, 11172
L_BASE, V_BASE, T_BASE = 0x1100, 0x1161, 0x11A7
V_COUNT, T_COUNT = 21, 28


def code_points():
    for cp in range(MAX_CP + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        yield cp


def hangul_decompose(cp):
    s = cp - S_BASE
    out = [L_BASE + s // (V_COUNT * T_COUNT), V_BASE + (s % (V_COUNT * T_COUNT)) // T_COUNT]
    if s % T_COUNT:
        out.append(T_BASE + s % T_COUNT)
    return out


def to_ranges(cps):
    cps = sorted(cps)
    out = []
    for cp in cps:
        if len(out) > 0 and out[-1] == cp - 1:
            out[-1] = cp
        else:
            out.extend([cp, cp])
    return out


def flat_map(mapping):
    out = []
    for cp in sorted(mapping):
        seq = mapping[cp]
        out.append(cp)
        out.append(len(seq))
        out.extend(seq)
    return out


def probe():
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=False)
    cjk = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True,
                                     strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=True, lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False,
                                       strip_accents=False, lowercase=True)
    full = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                      strip_accents=None, lowercase=True)
    pre = pre_tokenizers.BertPreTokenizer()

    t = {k: set() for k in ('CONTROL', 'CLEAN_WS', 'CJK', 'MN', 'SPLIT_WS', 'PUNCT')}
    strip_map, lower_map, full_out = {}, {}, {}
    for cp in code_points():
        c = chr(cp)
        r = clean.normalize_str(c)
        if r == '':
            t['CONTROL'].add(cp)
        elif r == ' ' and c != ' ':
            t['CLEAN_WS'].add(cp)
        elif r != c:
            raise AssertionError('clean_text(%04X) = %r' % (cp, r))
        r = cjk.normalize_str(c)
        if r == ' ' + c + ' ':
            t['CJK'].add(cp)
        elif r != c:
            raise AssertionError('chinese(%04X) = %r' % (cp, r))
        r = strip.normalize_str(c)
        if r == '':
            t['MN'].add(cp)
        elif r != c:
            seq = [ord(x) for x in r]
            if S_BASE <= cp < S_BASE + S_COUNT:
                if seq != hangul_decompose(cp):
                    raise AssertionError('Hangul %04X -> %r' % (cp, r))
            else:
                strip_map[cp] = seq
        r = lower.normalize_str(c)
        if r != c:
            lower_map[cp] = [ord(x) for x in r]
        parts = [p for p, _ in pre.pre_tokenize_str('a' + c + 'a')]
        if parts == ['a', 'a']:
            t['SPLIT_WS'].add(cp)
        elif parts == ['a', c, 'a']:
            t['PUNCT'].add(cp)
        elif parts != ['a' + c + 'a']:
            raise AssertionError('pre(%04X) = %r' % (cp, parts))
        full_out[cp] = full.normalize_str(c)
    return t, strip_map, lower_map, full_out


def compose(cp, t, strip_map, lower_map):
    """What the default BertNormalizer does to one code point, rebuilt from the tables."""
    if cp in t['CONTROL']:
        return ''
    if cp in t['CLEAN_WS']:
        return ' '
    if cp in t['MN']:
        seq = []
    elif S_BASE <= cp < S_BASE + S_COUNT:
        seq = hangul_decompose(cp)
    else:
        seq = strip_map.get(cp, [cp])
    out = []
    for x in seq:
        out.extend(lower_map.get(x, [x]))
    s = ''.join(chr(x) for x in out)
    if cp in t['CJK']:
        s = ' ' + s + ' '
    return s


def compare_unicodedata(t, lower_map):
    """Count where the reference disagrees with this Python's unicodedata (for the record)."""
    diffs = {}

    def count(name, ours, theirs):
        diffs[name] = len(ours ^ theirs)

    cps = list(code_points())
    cat = {cp: unicodedata.category(chr(cp)) for cp in cps}
    other = {cp for cp in cps if cat[cp][0] == 'C' and cp not in (9, 10, 13)} | {0, 0xFFFD}
    count('CONTROL', t['CONTROL'], other)
    punct = {cp for cp in cps if cat[cp][0] == 'P'
             or (cp < 128 and not chr(cp).isalnum() and 33 <= cp <= 126)}
    count('PUNCT', t['PUNCT'], punct)
    count('MN', t['MN'], {cp for cp in cps if cat[cp] == 'Mn'})
    low = {cp for cp in cps if chr(cp).lower() != chr(cp)}
    count('LOWER_MAP', set(lower_map), low)
    return diffs


def fmt_list(name, values, comment):
    lines = ['# ' + comment, name + ' = [']
    line = '   '
    for v in values:
        item = ' %d,' % v
        if len(line) + len(item) > 99:
            lines.append(line)
            line = '   '
        line += item
    if line.strip():
        lines.append(line)
    lines.append(']')
    return '\n'.join(lines) + '\n'


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, '..', 'src_py', 'tinybert_core', 'unicode_tables.py')
    out_path = sys.argv[1] if len(sys.argv) > 1 else default_out
    import tokenizers

    t, strip_map, lower_map, full_out = probe()
    bad = [cp for cp, r in full_out.items() if compose(cp, t, strip_map, lower_map) != r]
    if len(bad) > 0:
        raise AssertionError('composition differs from BertNormalizer for %d code points, '
                             'e.g. %s' % (len(bad), ['%04X' % cp for cp in bad[:10]]))
    diffs = compare_unicodedata(t, lower_map)

    parts = [
        '"""Unicode tables for the BERT tokenizer (generated by tools/gen_unicode_tables.py;\n'
        'do not edit).\n\n'
        'Measured code point by code point on Hugging Face tokenizers %s, so that the\n'
        'tokenizer reproduces it exactly in CPython and in the browser (no unicodedata, no\n'
        'JavaScript regex property escapes). Ranges: flat [first, last, ...] inclusive lists.\n'
        'Maps: flat [cp, n, out_1 .. out_n, ...] lists. Code points where these tables differ\n'
        'from Python %s unicodedata %s: %s.\n"""\n'
        % (tokenizers.__version__, sys.version.split()[0], unicodedata.unidata_version,
           ', '.join('%s %d' % kv for kv in sorted(diffs.items()))),
        fmt_list('CONTROL', to_ranges(t['CONTROL']),
                 'Removed by clean_text (NUL, U+FFFD, other categories except \\t \\n \\r).'),
        fmt_list('CLEAN_WS', to_ranges(t['CLEAN_WS']), 'Replaced by a space by clean_text.'),
        fmt_list('CJK', to_ranges(t['CJK']),
                 'Surrounded by spaces by handle_chinese_chars.'),
        fmt_list('MN', to_ranges(t['MN']), 'Removed by strip_accents (nonspacing marks).'),
        fmt_list('STRIP_MAP', flat_map(strip_map),
                 'strip_accents (NFD without nonspacing marks); Hangul syllables are '
                 'algorithmic.'),
        fmt_list('LOWER_MAP', flat_map(lower_map), 'Per-character lowercase.'),
        fmt_list('SPLIT_WS', to_ranges(t['SPLIT_WS']),
                 'Whitespace for the BERT pre-tokenizer.'),
        fmt_list('PUNCT', to_ranges(t['PUNCT']), 'Punctuation for the BERT pre-tokenizer.'),
    ]
    text = '\n'.join(parts)
    with open(out_path, 'w', encoding='utf-8') as f:
        f.write(text)
    sizes = {k: len(v) for k, v in t.items()}
    print('wrote %s (%d bytes); set sizes %s; strip map %d, lower map %d; '
          'differences from unicodedata %s'
          % (os.path.relpath(out_path), len(text.encode('utf-8')), sizes, len(strip_map),
             len(lower_map), diffs))


if __name__ == '__main__':
    main()
