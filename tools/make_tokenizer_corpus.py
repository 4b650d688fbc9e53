"""Build the tokenizer test corpus ``tests/fixtures/tokenizer_corpus.jsonl``.

One JSON string per line (ASCII-escaped, so lone surrogates survive as ``\\udXXX``). The
corpus is (a) every distinct ``text`` of the labelled CSV files in a data folder and (b)
generated Unicode edge cases (deterministic: fixed seed). The committed fixture keeps the
tests independent of the data folder.

Usage::

    python tools/make_tokenizer_corpus.py DATA_DIR [OUTPUT]
"""
import csv
import glob
import json
import os
import random
import sys
import unicodedata

SEED = 20240611

WORDS_ACCENTED = [
    'café', 'naïve', 'résumé', 'Ångström', 'São Paulo', 'Zürich', 'façade', 'Dvořák', 'Łódź',
    'crème brûlée', 'jalapeño', 'Ελληνικά', 'Ἀθῆναι', 'Tiếng Việt', 'Việt Nam', 'coöperate',
    'Français', 'Ærøskøbing', 'İstanbul', 'ıspanak', 'Straße', 'STRASSE', 'ẞ', 'Ñandú',
    'Kraków', 'Māori', 'Hawaiʻi', 'Smörgåsbord', 'piñata', 'Übermensch', 'Åland', 'Čapek',
    'Şişli', 'Ğ', 'Ō', 'ǅ', 'ǈ', 'ǋ', 'ǲ', 'ﬁnance', 'ﬂower', 'K', 'Ω', 'Å', 'ℌ', 'Ⅻ', 'ⓐⒶ',
]

SCRIPTS = [
    '我爱自然语言处理。', '今天天气很好，我们去公园吧！', '東京は日本の首都です。', 'ひらがなとカタカナ',
    'カタカナ・テスト', '한국어 텍스트 처리', '안녕하세요, 세계!', '훈민정음', 'ภาษาไทยเป็นภาษาที่สวยงาม',
    'สวัสดีครับ', 'العربية لغة جميلة', 'مَرْحَبًا بِالْعَالَمِ', 'עִבְרִית', 'שלום עולם',
    'हिन्दी भाषा', 'नमस्ते दुनिया', 'தமிழ் மொழி', 'Русский язык', 'ПРИВЕТ МИР', 'Українська',
    'Հայերեն', 'ქართული ენა', 'ᲥᲐᲠᲗᲣᲚᲘ', 'ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ', '𐐔𐐯𐑅𐐨𐑉𐐯𐐻', '𐓏𐓘𐓻𐓘𐓻𐓟',
    '𞤀𞤣𞤤𞤢𞤥', 'አማርኛ', 'ᠮᠣᠩᠭᠣᠯ', 'ᐃᓄᒃᑎᑐᑦ', 'ꦧꦱꦗꦮ', 'ελληνική γλώσσα', 'ΟΔΥΣΣΕΥΣ',
    '𠀀𠀁𠀂 𪜀 𫝀 𫠠 𬺰 𰀀', '丽丸乁 豈更車', '、。「」『』【】〜', 'Ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３！？',
    'ﾊﾝｶｸｶﾀｶﾅ', '①②③ ⑴⑵ ¼½¾ x² H₂O', '™ © ® ℃ ℉ № ℡', 'Ⅰ Ⅱ Ⅲ ⅰ ⅱ',
]

EMOJI = [
    '😀', '😀😃😄', '👍🏽', '👨‍👩‍👧‍👦', '🏳️‍🌈', '🇫🇷🇺🇸', '#️⃣ 1️⃣', '❤️', '🥹', '🫠', '🫨',
    '🧑🏿‍🚀', '👩‍❤️‍💋‍👨', 'I ❤ NY', 'ok👌fine', '🙂🙃', '☺︎', '🀄🃏', '𝐇𝐞𝐥𝐥𝐨 𝕎𝕠𝕣𝕝𝕕',
    '𝓕𝓪𝓷𝓬𝔂', '🄰🄱🄲', '🅰🅱', '🆗',
]

CONTROLS = [
    'a\x00b', 'a\x01b\x02c', 'tab\there', 'line\nbreak', 'cr\r\nlf', 'vt\x0bff\x0cend',
    'nel\x85x', 'del\x7fx', 'zw\u200bsp', 'zw\u200cnj', 'zw\u200dj', 'word\u2060joiner',
    '\ufeffbom', 'soft\u00adhyphen', 'alm\u061cmark', 'bidi\u202aab\u202c\u202ecd\u202c',
    '\u2066iso\u2069', 'tag\U000E0001\U000E0041\U000E007F', 'pua\ue000x', 'pua\U000F0000x',
    'rep\ufffdlacement', 'nonchar\ufffe\uffff', 'unassigned\u0378\u0379', 'fmt\U0001D173',
    'nbsp\u00a0x', 'ogham\u1680x', 'en\u2002em\u2003thin\u2009hair\u200a', 'ls\u2028ps\u2029',
    'nnbsp\u202fx', 'mmsp\u205fx', 'ideo\u3000x', 'mvs\u180ex', 'fs\x1cgs\x1drs\x1eus\x1f',
    '   leading and trailing   ', '\t\n\r', ' ', '', '\x00', '\u200b', 'a  \t\t  b',
    'x\u0300\u0301\u0302', '\u0301leading mark', 'e\u0301\u0316 a\u0316\u0301',
    'ﾟ\u3099', 'か\u3099', 'ᄀ\u1161\u11a8', '\u1100\u1161', 'ㄱㅏ',
]

SURROGATES = [
    '\ud800', 'a\udc00b', 'end\ud83d', '\ude00\ud83d', 'hi\ud83dx', 'lo\ude00x',
    '\udbff\udfff', 'pair \ud83d\ude00 ok', '\ud800\ud800\udc00', 'caf\u00e9\udc80',
]

SPECIALS = [
    '[CLS]', '[SEP]', '[PAD]', '[UNK]', '[MASK]', 'Hello [SEP] world', 'a[MASK]b',
    '[CLS] first [SEP] second [SEP]', '[PAD][PAD][UNK]', '[cls] lowercase', '[ CLS ]',
    'x [CLS]', 'The [MASK] sat on the mat.', '[SEP]', '[[CLS]]',
]

MISC = [
    '3.14159', '1,000,000', '1e-10', '0x1F', '+1 (555) 123-4567', '2024-06-11T10:00:00Z',
    '1st 2nd 3rd 4th', '$100.00', '€50', '£30', '¥1000', '50%', '12:30pm', '3/4',
    'https://example.com/path?query=1&b=2#frag', 'http://www.Example.ORG/A_B-C.html',
    'user.name+tag@example.co.uk', '#hashtag @mention', 'C:\\Users\\me\\file.txt',
    '/usr/local/bin', 'def f(x): return x**2', 'a=b&&c||d', '<html><body>Hi</body></html>',
    'camelCaseWord', 'snake_case_word', 'kebab-case-word', 'ALLCAPS SHOUTING', "McDonald's",
    'iPhone iPad macOS', "don't won't can't y'all", '"quoted" \'single\' “curly” ‘quotes’',
    '«guillemets» ‹single›', '— – ‐ ‑ ‒ ―', '… ‥ ·', '¿Qué? ¡Sí!', '(parens) [brackets] {braces}',
    'Σ', 'ΣΑΣ ΣΑΣ', 'λόγος ΛΌΓΟΣ', 'Σίσυφος ΣΊΣΥΦΟΣ', 'ὈΔΥΣΣΕΎΣ', 'ΌΣΟΣ.', 'AΣ', 'ΣΣ Σ.',
    'I\u0307', 'İi Iı', 'ǰ', 'ŉ', 'ΐ', 'ﬃ', 'ß', 'ẞ ß',
]


def read_csv_texts(data_dir):
    texts = []
    seen = set()
    for path in sorted(glob.glob(os.path.join(data_dir, '*.csv'))):
        with open(path, encoding='utf-8', newline='') as f:
            for row in csv.DictReader(f):
                t = row['text']
                if t not in seen:
                    seen.add(t)
                    texts.append(t)
    return texts


def random_strings(rng, n):
    pools = [
        (40, [chr(c) for c in range(0x20, 0x7F)]),
        (10, [chr(c) for c in range(0xA0, 0x250)]),
        (8, [chr(c) for c in range(0x300, 0x370)]),
        (6, [chr(c) for c in range(0x370, 0x530)]),
        (6, [chr(c) for c in range(0x4E00, 0x4E00 + 2000)]),
        (4, [chr(c) for c in range(0xAC00, 0xAC00 + 2000)]),
        (4, [chr(c) for c in range(0x2000, 0x2070)]),
        (4, [chr(c) for c in range(0x1F300, 0x1FAFF)]),
        (3, [chr(c) for c in range(0x0, 0x20)] + ['\x7f', '\x85', '\u200b', '\ufeff']),
        (3, [chr(c) for c in range(0x3000, 0x3100)]),
        (3, [chr(c) for c in range(0xFF00, 0xFFF0)]),
        (2, [chr(c) for c in range(0x10000, 0x20000, 7)]),
        (2, [chr(c) for c in range(0x20000, 0x32000, 11)]),
        (5, [chr(c) for c in range(0x0, 0x110000, 97) if not 0xD800 <= c <= 0xDFFF]),
    ]
    weights = [w for w, _ in pools]
    out = []
    for _ in range(n):
        k = rng.randint(1, 40)
        chars = []
        for _ in range(k):
            pool = rng.choices(pools, weights)[0][1]
            chars.append(rng.choice(pool))
        out.append(''.join(chars))
    return out


def variants(texts, rng, n):
    """Upper-cased, NFD, accent-sprinkled and case-mixed versions of real texts."""
    out = []
    sample = rng.sample(texts, min(n, len(texts)))
    marks = [chr(c) for c in range(0x300, 0x370)]
    for i, t in enumerate(sample):
        kind = i % 5
        if kind == 0:
            out.append(t.upper())
        elif kind == 1:
            out.append(unicodedata.normalize('NFD', t.title()))
        elif kind == 2:
            out.append(''.join(c + (rng.choice(marks) if c.isalpha() and rng.random() < 0.3
                                    else '') for c in t))
        elif kind == 3:
            out.append(''.join(c.upper() if rng.random() < 0.5 else c for c in t))
        else:
            out.append(t.replace(' ', rng.choice(['\t', '\n', '\u00a0', '\u3000', '  ',
                                                  '\u2003', ' \u200b'])))
    return out


def edge_cases(rng, texts):
    out = []
    for w in WORDS_ACCENTED:
        for form in ('NFC', 'NFD', 'NFKC', 'NFKD'):
            out.append(unicodedata.normalize(form, w))
        out.append(w.upper())
        out.append(w.lower())
    for s in SCRIPTS + EMOJI + CONTROLS + SURROGATES + SPECIALS + MISC:
        out.append(s)
        out.append('Prefix ' + s + ' suffix.')
    for n in (99, 100, 101, 150, 200, 250):
        out.append('a' * n)
        out.append('x ' + 'ab' * (n // 2) + ' y')
        out.append('é' * n)
        out.append(unicodedata.normalize('NFD', 'É' * n))
    out.append('a' * 99 + '😀')     # 100 code points, 101 UTF-16 units
    out.append('a' * 100 + '😀')
    out.append('a' * 98 + '😀😀')
    out.append('😀' * 100)
    out.append('😀' * 101)
    out.append('a' * 100 + '\u0301')  # the mark is removed before the length check
    out.append('supercalifragilisticexpialidocious ' * 3)
    out.append('pneumonoultramicroscopicsilicovolcanoconiosis')
    out.append(' '.join(texts[:400]))   # a long text (several thousand tokens)
    out.append('\n'.join(texts[400:700]))
    out.extend(random_strings(rng, 2500))
    out.extend(variants(texts, rng, 1500))
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit('usage: make_tokenizer_corpus.py DATA_DIR [OUTPUT]')
    here = os.path.dirname(os.path.abspath(__file__))
    out_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, '..', 'tests', 'fixtures', 'tokenizer_corpus.jsonl')
    rng = random.Random(SEED)
    texts = read_csv_texts(sys.argv[1])
    corpus = texts + edge_cases(rng, texts)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, 'w', encoding='ascii', newline='\n') as f:
        for s in corpus:
            f.write(json.dumps(s) + '\n')
    print('wrote %s: %d strings (%d from CSV), %d bytes'
          % (os.path.relpath(out_path), len(corpus), len(texts), os.path.getsize(out_path)))


if __name__ == '__main__':
    main()
