# __pragma__ ('ecom')
"""BERT WordPiece tokenizer that reproduces Hugging Face ``tokenizers`` ids exactly.

Runs unchanged under CPython and, transpiled by Transcrypt, in the browser. It is pure: no
I/O, no DOM, no imports except the project's own Unicode tables.

Usage::

    config = config_from_tokenizer_json(json_object, 128)   # parsed tokenizer.json
    tok = Tokenizer(config)
    tok.encode('Hello world')          # [101, 7592, 2088, 102]
    tok.encode_batch(['a', 'b c'])     # {'input_ids': [[...]], 'attention_mask': [[...]]}
    tok.tokenize('Hello world')        # ['hello', 'world']

Pipeline (each step configured from tokenizer.json, none hard-coded):

1. BertNormalizer: ``clean_text`` removes NUL, U+FFFD and "other" characters (control,
   format, private use) and maps whitespace to a space; ``handle_chinese_chars`` puts spaces
   around CJK ideographs; ``strip_accents`` (null means "same as lowercase") applies NFD and
   drops nonspacing marks; ``lowercase`` lowercases character by character.
2. BertPreTokenizer: split on whitespace, isolate punctuation (ASCII punctuation plus the
   Unicode punctuation categories).
3. WordPiece: greedy longest match with the continuation prefix (``##``); a word longer than
   ``max_input_chars_per_word`` code points, or one that cannot be covered by the vocabulary,
   becomes the unknown token.
4. Post-processing: the special tokens of TemplateProcessing / BertProcessing ([CLS] ...
   [SEP]); truncation to ``max_length`` keeps the trailing special token.

Unicode data comes from ``tinybert_core.unicode_tables``, measured on the reference implementation
itself (``tools/gen_unicode_tables.py``), so CPython's ``unicodedata`` and the browser's regex
tables (whose Unicode versions differ) are never used. Strings are walked by code point with
a surrogate-pair decoder that behaves the same on CPython strings and JavaScript (UTF-16)
strings.

Documented decisions (where we deliberately choose a behaviour):

- Final Greek sigma: lowercasing is per character, as in the Rust reference, so a capital
  sigma always becomes 'σ' (U+03C3), also at the end of a word. JavaScript ``toLowerCase`` and
  Python ``str.lower`` would give 'ς' there; we match the reference, not them.
- Special-token literals in user text ("[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]") are plain
  text: "[CLS]" becomes '[', 'cl', '##s', ']'. The reference would turn them into the special
  token ids; we do not, so user text can never inject control tokens.
- Lone surrogates (possible in JavaScript strings and in CPython strings) are read as U+FFFD,
  which is what the reference receives after UTF-8 encoding with replacement, and which
  ``clean_text`` then removes. A surrogate pair held as two code points in a CPython string is
  read as the character it encodes, as JavaScript does.
- NFD's canonical reordering of combining marks is not performed: after nonspacing marks are
  dropped it can only reorder the few spacing combining marks, none of which is in a BERT
  vocabulary, so the ids cannot change.

Transcrypt notes: no keyword arguments, no negative indexes, no list operators, explicit
``len(...) > 0`` tests, ``== None`` where JavaScript's ``undefined`` may appear, and lookups
in dicts only with ``in`` then ``[]`` (``dict.get`` in Transcrypt also finds inherited and
renamed attributes such as 'constructor' or 'keys'). The tokenizer.json object may be a
JSON.parse object: it is read with subscripts and ``in`` only, and its keys are listed with
``Object.keys`` (``dict(obj)`` would attach Transcrypt's dict methods to it). A word or
vocabulary entry 'hasOwnProperty' would shadow the method the JavaScript ``in`` relies on, so
it is stored under a mangled key. Hot loops call module-level functions, not methods (in
Transcrypt every method access binds a new function). Caches are bounded (CACHE_LIMIT).
"""
from tinybert_core.unicode_tables import (
    CJK,
    CLEAN_WS,
    CONTROL,
    LOWER_MAP,
    MN,
    PUNCT,
    SPLIT_WS,
    STRIP_MAP,
)

# Bit flags per code point.
F_CONTROL = 1
F_CLEAN_WS = 2
F_CJK = 4
F_MN = 8
F_SPLIT_WS = 16
F_PUNCT = 32

# What one input code point does to the word being built.
K_DROP = 0      # nothing (removed character: does not split words)
K_SAME = 1      # append the character itself
K_MAP = 2       # append a replacement string
K_BREAK = 3     # end the current word
K_ISOLATE = 4   # end the current word, emit a one-piece word, end it
K_SEQ = 5       # general case: a list of events

E_APPEND = 0
E_BREAK = 1

S_BASE = 0xAC00
S_COUNT = 11172
L_BASE = 0x1100
V_BASE = 0x1161
T_BASE = 0x11A7
V_COUNT = 21
T_COUNT = 28

# True when running as JavaScript: there chr is String.fromCharCode, which keeps 16 bits.
_IN_JS = ord(chr(0x10000)) != 0x10000

SUPPORTED_NORMALIZERS = ['BertNormalizer']
SUPPORTED_PRE_TOKENIZERS = ['BertPreTokenizer']
SUPPORTED_MODELS = ['WordPiece']
SUPPORTED_POST_PROCESSORS = ['TemplateProcessing', 'BertProcessing', None]

_MANGLED = 'hasOwnProperty'
# Names a Transcrypt dict defines on itself (read-only): never usable as keys.
_RESERVED = ['__proto__', '__class__', '__contains__', '__iter__', '__getitem__',
             '__setitem__', 'py_keys', 'py_items', 'py_del', 'py_clear', 'py_get',
             'py_setdefault', 'py_pop', 'py_popitem', 'py_update', 'py_copy', 'py_values',
             'py_fromkeys']

CACHE_LIMIT = 50000          # words kept in the word -> ids cache
ASTRAL_CACHE_LIMIT = 10000   # code points above U+FFFF kept in their cache


def _cp_str(cp):
    """The string of one code point, in either runtime."""
    if cp < 0x10000 or not _IN_JS:
        return chr(cp)
    v = cp - 0x10000
    return chr(0xD800 + (v >> 10)) + chr(0xDC00 + (v & 0x3FF))


def _own_keys(obj):
    """Keys of a dict, or of a plain JavaScript object (e.g. from JSON.parse).

    Transcrypt's dict() would attach its methods to the object, which fails when a key is
    'hasOwnProperty'; Object.keys does not care. (Object is never evaluated under CPython;
    the subscript keeps Transcrypt from renaming keys to py_keys.)
    """
    if _IN_JS:
        return Object['keys'](obj)
    return list(obj.keys())


def _in_ranges(ranges, cp):
    """Binary search in a flat inclusive [first, last, ...] range list."""
    lo = 0
    hi = len(ranges) // 2 - 1
    while lo <= hi:
        mid = (lo + hi) >> 1
        if cp < ranges[2 * mid]:
            hi = mid - 1
        elif cp > ranges[2 * mid + 1]:
            lo = mid + 1
        else:
            return True
    return False


def _parse_map(flat):
    """Flat [cp, n, out..., ...] list -> dict str(cp) -> list of code points."""
    out = {}
    i = 0
    n = len(flat)
    while i < n:
        cp = flat[i]
        k = flat[i + 1]
        seq = []
        for j in range(k):
            seq.append(flat[i + 2 + j])
        out[str(cp)] = seq
        i += 2 + k
    return out


_RANGE_TABLES = [[CONTROL, F_CONTROL], [CLEAN_WS, F_CLEAN_WS], [CJK, F_CJK], [MN, F_MN],
                 [SPLIT_WS, F_SPLIT_WS], [PUNCT, F_PUNCT]]


def _build_bmp_flags():
    flags = []
    for i in range(0x10000):
        flags.append(0)
    for t in _RANGE_TABLES:
        ranges = t[0]
        bit = t[1]
        for r in range(len(ranges) // 2):
            first = ranges[2 * r]
            last = ranges[2 * r + 1]
            if first > 0xFFFF:
                break
            if last > 0xFFFF:
                last = 0xFFFF
            for cp in range(first, last + 1):
                flags[cp] = flags[cp] | bit
    return flags


_BMP_FLAGS = _build_bmp_flags()
_STRIP = _parse_map(STRIP_MAP)
_LOWER = _parse_map(LOWER_MAP)


def _flags(cp):
    if cp < 0x10000:
        return _BMP_FLAGS[cp]
    f = 0
    for t in _RANGE_TABLES:
        if _in_ranges(t[0], cp):
            f = f | t[1]
    return f


def _normalize_cp(cp, opts):
    """Code points the normalizer makes of one input code point (opts: [clean, cjk, strip,
    lower])."""
    f = _flags(cp)
    if opts[0]:
        if (f & F_CONTROL) != 0:
            return []
        if (f & F_CLEAN_WS) != 0:
            return [32]
    seq = [cp]
    if opts[2]:
        if (f & F_MN) != 0:
            seq = []
        elif S_BASE <= cp < S_BASE + S_COUNT:
            s = cp - S_BASE
            seq = [L_BASE + s // (V_COUNT * T_COUNT), V_BASE + (s % (V_COUNT * T_COUNT)) // T_COUNT]
            if s % T_COUNT != 0:
                seq.append(T_BASE + s % T_COUNT)
        else:
            key = str(cp)
            if key in _STRIP:
                seq = _STRIP[key]
    if opts[3]:
        low = []
        for x in seq:
            key = str(x)
            if key in _LOWER:
                for y in _LOWER[key]:
                    low.append(y)
            else:
                low.append(x)
        seq = low
    if opts[1] and (f & F_CJK) != 0:
        wrapped = [32]
        for x in seq:
            wrapped.append(x)
        wrapped.append(32)
        seq = wrapped
    return seq


def _char_action(cp, opts):
    """[kind, string, code point count, events] for one input code point."""
    seq = _normalize_cp(cp, opts)
    events = []   # [E_APPEND, string, count] or [E_BREAK, '', 0]
    for o in seq:
        f = _flags(o)
        if (f & F_SPLIT_WS) != 0 or (f & F_PUNCT) != 0:
            if len(events) == 0 or events[len(events) - 1][0] != E_BREAK:
                events.append([E_BREAK, '', 0])
            if (f & F_PUNCT) != 0:
                events.append([E_APPEND, _cp_str(o), 1])
                events.append([E_BREAK, '', 0])
        else:
            if len(events) > 0 and events[len(events) - 1][0] == E_APPEND:
                last = events[len(events) - 1]
                events[len(events) - 1] = [E_APPEND, last[1] + _cp_str(o), last[2] + 1]
            else:
                events.append([E_APPEND, _cp_str(o), 1])
    n = len(events)
    if n == 0:
        return [K_DROP, '', 0, None]
    if n == 1 and events[0][0] == E_APPEND:
        if len(seq) == 1 and seq[0] == cp:
            return [K_SAME, events[0][1], 1, None]
        return [K_MAP, events[0][1], events[0][2], None]
    if n == 1:
        return [K_BREAK, '', 0, None]
    if n == 3 and events[0][0] == E_BREAK and events[1][0] == E_APPEND \
            and events[2][0] == E_BREAK:
        return [K_ISOLATE, events[1][1], events[1][2], None]
    return [K_SEQ, '', 0, events]


def _key(s):
    if s == _MANGLED:
        return ' ' + s
    return s


def _field(obj, name, default):
    """obj[name] for a dict or a JSON-parsed JavaScript object; default when absent/null."""
    if obj == None or name not in obj:  # noqa: E711  (== also catches undefined)
        return default
    v = obj[name]
    if v == None:  # noqa: E711
        return default
    return v


def _type_of(component, what, supported):
    if component is None:
        if None in supported:
            return None
        raise ValueError('tokenizer.json has no ' + what + '; supported: '
                         + ', '.join(_names(supported)))
    t = _field(component, 'type', None)
    for s in supported:
        if s is not None and s == t:
            return t
    raise ValueError('unsupported ' + what + ' type ' + str(t) + '; supported: '
                     + ', '.join(_names(supported)))


def _names(supported):
    out = []
    for s in supported:
        out.append('null' if s is None else s)
    return out


def _special_ids(processor, name):
    """Ids of the special token `name` from TemplateProcessing's special_tokens."""
    specials = _field(processor, 'special_tokens', None)
    if specials is None or name not in specials:
        raise ValueError('post_processor has no special token ' + str(name))
    ids = []
    for i in specials[name]['ids']:
        ids.append(i)
    return ids


def config_from_tokenizer_json(obj, max_length=None):
    """A plain dict config from a parsed tokenizer.json (a dict, or a JSON.parse object).

    max_length: the longest encoding including special tokens, or None for no truncation
    (a missing argument, undefined in JavaScript, counts as None).
    """
    if max_length == None:  # noqa: E711  (== also catches JavaScript's undefined)
        max_length = None
    normalizer = _field(obj, 'normalizer', None)
    _type_of(normalizer, 'normalizer', SUPPORTED_NORMALIZERS)
    _type_of(_field(obj, 'pre_tokenizer', None), 'pre_tokenizer', SUPPORTED_PRE_TOKENIZERS)
    model = _field(obj, 'model', None)
    _type_of(model, 'model', SUPPORTED_MODELS)
    processor = _field(obj, 'post_processor', None)
    ptype = _type_of(processor, 'post_processor', SUPPORTED_POST_PROCESSORS)

    lowercase = _field(normalizer, 'lowercase', True) is True
    strip = _field(normalizer, 'strip_accents', None)
    if strip is None:
        strip = lowercase

    # Membership is tested while copying: a vocabulary key 'hasOwnProperty' would break `in`
    # on the JavaScript object. Names a Transcrypt dict reserves are left out (they contain
    # '_', which the pre-tokenizer always isolates, so no word can ever look them up).
    src = model['vocab']
    unk = _field(model, 'unk_token', '[UNK]')
    vocab = {}
    unk_found = False
    vocab_pad = None
    for tok in _own_keys(src):
        if tok in _RESERVED:
            continue
        vocab[tok] = src[tok]
        if tok == unk:
            unk_found = True
        elif tok == '[PAD]':
            vocab_pad = src[tok]
    if not unk_found:
        raise ValueError('unk_token ' + str(unk) + ' is not in the vocabulary')

    prefix_ids = []
    suffix_ids = []
    if ptype == 'BertProcessing':
        prefix_ids.append(processor['cls'][1])
        suffix_ids.append(processor['sep'][1])
    elif ptype == 'TemplateProcessing':
        seen_sequence = False
        for item in processor['single']:
            if 'Sequence' in item:
                seen_sequence = True
            elif 'SpecialToken' in item:
                for i in _special_ids(processor, item['SpecialToken']['id']):
                    if seen_sequence:
                        suffix_ids.append(i)
                    else:
                        prefix_ids.append(i)
            else:
                raise ValueError('unsupported TemplateProcessing item')

    padding = _field(obj, 'padding', None)
    if padding is not None:
        pad_id = _field(padding, 'pad_id', 0)
    elif vocab_pad is not None:
        pad_id = vocab_pad
    else:
        pad_id = 0

    if max_length is not None and max_length < len(prefix_ids) + len(suffix_ids):
        raise ValueError('max_length ' + str(max_length) + ' leaves no room for the special '
                         'tokens')
    return {
        'clean_text': _field(normalizer, 'clean_text', True) is True,
        'handle_chinese_chars': _field(normalizer, 'handle_chinese_chars', True) is True,
        'strip_accents': strip is True,
        'lowercase': lowercase,
        'vocab': vocab,
        'unk_token': unk,
        'continuing_subword_prefix': _field(model, 'continuing_subword_prefix', '##'),
        'max_input_chars_per_word': _field(model, 'max_input_chars_per_word', 100),
        'prefix_ids': prefix_ids,
        'suffix_ids': suffix_ids,
        'pad_id': pad_id,
        'max_length': max_length,
    }


def _wordpiece(tk, word):
    """Ids of one pre-tokenized word (greedy longest match)."""
    vocab = tk._vocab
    prefix = tk._prefix
    maxlen = tk._max_token_len
    n = len(word)
    out = []
    start = 0
    while start < n:
        end = n
        if end - start > maxlen:
            end = start + maxlen
        found = -1
        while end > start:
            sub = word[start:end]
            if start > 0:
                sub = prefix + sub
            if sub == _MANGLED:
                sub = ' ' + sub
            if sub in vocab:
                found = vocab[sub]
                break
            end -= 1
        if found < 0:
            return [tk._unk_id]
        out.append(found)
        start = end
    return out


def _emit(tk, word, count, ids):
    """Append the ids of one word to ids."""
    if count > tk._max_chars:
        ids.append(tk._unk_id)
        return None
    cache = tk._cache
    k = word
    if k == _MANGLED:
        k = ' ' + k
    if k in cache:
        wids = cache[k]
    else:
        wids = _wordpiece(tk, word)
        if tk._cache_size >= CACHE_LIMIT:
            tk._cache = {}
            tk._cache_size = 0
            cache = tk._cache
        cache[k] = wids
        tk._cache_size += 1
    for x in wids:
        ids.append(x)
    return None


def _content_ids(tk, text, limit):
    """Ids of the text without special tokens; stops once `limit` ids exist (limit < 0: all).
    May return more than `limit` ids (the last word is complete)."""
    kinds = tk._kinds
    strs = tk._strs
    counts = tk._counts
    events = tk._events
    max_chars = tk._max_chars
    ids = []
    parts = []
    run_start = -1      # start of the current run of unchanged characters in text
    wlen = 0            # code points in the current word
    n = len(text)
    i = 0
    while i < n:
        c = ord(text[i])
        w = 1
        forced = False
        if c >= 0xD800 and c <= 0xDFFF:
            if c <= 0xDBFF and i + 1 < n:
                d = ord(text[i + 1])
                if d >= 0xDC00 and d <= 0xDFFF:
                    c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00)
                    w = 2
            if w == 1:
                c = 0xFFFD
            forced = True
        if c < 0x10000:
            kind = kinds[c]
            s = strs[c]
            cnt = counts[c]
            ev = events[c]
        else:
            a = _astral_action(tk, c)
            kind = a[0]
            s = a[1]
            cnt = a[2]
            ev = a[3]
        if forced and kind == K_SAME:
            # Not a plain slice of text: a replaced lone surrogate or a decoded pair.
            kind = K_MAP
            s = _cp_str(c)
        if kind == K_SAME:
            if run_start < 0:
                run_start = i
            wlen += 1
        elif kind == K_MAP:
            if wlen <= max_chars:
                if run_start >= 0:
                    parts.append(text[run_start:i])
                parts.append(s)
            run_start = -1
            wlen += cnt
        elif kind == K_DROP:
            if run_start >= 0:
                if wlen <= max_chars:
                    parts.append(text[run_start:i])
                run_start = -1
        elif kind == K_SEQ:
            if run_start >= 0:
                if wlen <= max_chars:
                    parts.append(text[run_start:i])
                run_start = -1
            for e in ev:
                if e[0] == E_BREAK:
                    if wlen > 0:
                        _emit(tk, ''.join(parts), wlen, ids)
                        parts = []
                        wlen = 0
                else:
                    if wlen <= max_chars:
                        parts.append(e[1])
                    wlen += e[2]
        else:
            # K_BREAK or K_ISOLATE: end the current word.
            if wlen > 0:
                if len(parts) == 0:
                    _emit(tk, text[run_start:i], wlen, ids)
                else:
                    if run_start >= 0 and wlen <= max_chars:
                        parts.append(text[run_start:i])
                    _emit(tk, ''.join(parts), wlen, ids)
                    parts = []
                run_start = -1
                wlen = 0
            if kind == K_ISOLATE:
                _emit(tk, s, cnt, ids)
            if limit >= 0 and len(ids) >= limit:
                return ids
        i += w
    if wlen > 0:
        if len(parts) == 0:
            _emit(tk, text[run_start:n], wlen, ids)
        else:
            if run_start >= 0 and wlen <= max_chars:
                parts.append(text[run_start:n])
            _emit(tk, ''.join(parts), wlen, ids)
    return ids


def _astral_action(tk, cp):
    key = str(cp)
    if key in tk._astral:
        return tk._astral[key]
    a = _char_action(cp, tk._opts)
    if tk._astral_size >= ASTRAL_CACHE_LIMIT:
        tk._astral = {}
        tk._astral_size = 0
    tk._astral[key] = a
    tk._astral_size += 1
    return a


def _check_text(text):
    # In the browser, typeof: Transcrypt's isinstance() tests for a __class__ property, which
    # throws and catches a TypeError on a plain string and took a third of the encode time.
    is_text = False
    # __pragma__ ('skip')
    is_text = isinstance(text, str)
    # __pragma__ ('noskip')
    #?is_text = typeof (text) == "string"
    if not is_text:
        raise TypeError('Tokenizer expects a string, got ' + _describe(text))
    return None


def _describe(x):
    if x is None:
        return 'None'
    if isinstance(x, list):
        return 'a list'
    if isinstance(x, bool):
        return 'a boolean'
    if isinstance(x, int) or isinstance(x, float):
        return 'a number'
    return 'a non-string value'


class Tokenizer:
    """BERT WordPiece tokenizer built from a config of config_from_tokenizer_json."""

    def __init__(self, config):
        opts = [config['clean_text'] is True, config['handle_chinese_chars'] is True,
                config['strip_accents'] is True, config['lowercase'] is True]
        self._opts = opts
        src = config['vocab']
        vocab = {}
        max_len = 1
        for tok in _own_keys(src):
            if tok in _RESERVED:
                continue
            vocab[_key(tok)] = src[tok]
            if len(tok) > max_len:
                max_len = len(tok)
        self._vocab = vocab
        self._max_token_len = max_len
        self._id_to_token = None
        self._src_vocab = src
        self._prefix = config['continuing_subword_prefix']
        self._max_chars = config['max_input_chars_per_word']
        self._unk_id = vocab[_key(config['unk_token'])]
        self._prefix_ids = _copy(config['prefix_ids'])
        self._suffix_ids = _copy(config['suffix_ids'])
        self.pad_id = config['pad_id']
        self.max_length = config['max_length']
        if self.max_length is None:
            self._budget = -1
        else:
            self._budget = self.max_length - len(self._prefix_ids) - len(self._suffix_ids)
            if self._budget < 0:
                raise ValueError('max_length leaves no room for the special tokens')
        self._cache = {}
        self._cache_size = 0
        self._astral = {}
        self._astral_size = 0
        kinds = []
        strs = []
        counts = []
        events = []
        for cp in range(0x10000):
            if 0xD800 <= cp <= 0xDFFF:
                a = [K_DROP, '', 0, None]   # never used: surrogates are decoded first
            elif _BMP_FLAGS[cp] == 0 and str(cp) not in _LOWER \
                    and str(cp) not in _STRIP and not (S_BASE <= cp < S_BASE + S_COUNT):
                a = [K_SAME, '', 1, None]
            else:
                a = _char_action(cp, opts)
            kinds.append(a[0])
            strs.append(a[1])
            counts.append(a[2])
            events.append(a[3])
        self._kinds = kinds
        self._strs = strs
        self._counts = counts
        self._events = events

    def encode(self, text):
        """Ids [CLS] ... [SEP] of one string, truncated to max_length."""
        _check_text(text)
        ids = _content_ids(self, text, self._budget)
        out = []
        for x in self._prefix_ids:
            out.append(x)
        n = len(ids)
        if self._budget >= 0 and n > self._budget:
            n = self._budget
        for j in range(n):
            out.append(ids[j])
        for x in self._suffix_ids:
            out.append(x)
        return out

    def encode_batch(self, texts):
        """{'input_ids': [[...]], 'attention_mask': [[...]]} padded to the longest item."""
        if not isinstance(texts, list):
            raise TypeError('encode_batch expects a list of strings, got ' + _describe(texts))
        rows = []
        longest = 0
        for t in texts:
            ids = self.encode(t)
            rows.append(ids)
            if len(ids) > longest:
                longest = len(ids)
        input_ids = []
        masks = []
        for ids in rows:
            row = []
            mask = []
            for x in ids:
                row.append(x)
                mask.append(1)
            for j in range(longest - len(ids)):
                row.append(self.pad_id)
                mask.append(0)
            input_ids.append(row)
            masks.append(mask)
        return {'input_ids': input_ids, 'attention_mask': masks}

    def tokenize(self, text):
        """Token strings without special tokens and without truncation (for debugging)."""
        _check_text(text)
        if self._id_to_token is None:
            table = {}
            src = self._src_vocab
            for tok in _own_keys(src):
                table[str(src[tok])] = tok
            self._id_to_token = table
        out = []
        for x in _content_ids(self, text, -1):
            out.append(self._id_to_token[str(x)])
        return out


def _copy(xs):
    out = []
    for x in xs:
        out.append(x)
    return out
