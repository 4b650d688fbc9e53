# __pragma__ ('ecom')
"""Labelled files as tables (pure): bytes to text, and CSV, TSV or JSON Lines text to rows.

The same code reads a file in the page's import dialog (transpiled) and in ``python -m
tinybert`` (CPython). What is refused raises ``TableError`` with a message that says what is
wrong and what to do; nothing here guesses columns or labels (``tinybert_core.table_import``).

A table is ``{"format": "csv" | "tsv" | "jsonl", "delimiter": "," | ";" | "\\t" | "",
"columns": [names], "records": [[values as strings]], "lines": [line of each record],
"malformed": {"count", "lines"}}``. Line numbers count from 1 (the header is line 1 of a
delimited file) and name the line where a record starts.

Delimited text follows RFC 4180 as Python's ``csv`` module reads it (the ``excel`` and
``excel-tab`` dialects): a field that starts with a quote runs to the next lone quote, ``""``
inside it is one quote, line breaks inside it are kept; characters after the closing quote
are kept as they are; a quote elsewhere is an ordinary character; CRLF, LF and CR end a
record; blank lines are skipped. Two differences, both deliberate: a quote that is never
closed is refused (``csv`` would swallow the rest of the file into one field), and a record
with more non-empty fields than the header is left out and counted as malformed (an unquoted
delimiter inside a text shifts the label into another column).

JSON Lines: one JSON object per line (blank lines skipped); a file that is one JSON array of
objects is read too. Columns are the objects' keys in order of first appearance, keys that
are array indices ("0", "1", ...) first in numeric order, as JavaScript orders them. Values
become strings: strings as they are, whole numbers without a fraction ("1", not "1.0"),
booleans as "true"/"false", null as "" (missing), objects and arrays as compact JSON; numbers
as JavaScript's ``String`` writes them ("1e-7", not Python's "1e-07").
"""
from tinybert_core.binary import json_dumps, json_loads, utf8_decode
from tinybert_core.checks import is_number

MB = 1000000
DEFAULT_MAX_BYTES = 50 * MB
FORMATS = ["csv", "tsv", "jsonl"]
SAVE_AS_UTF8 = ("Save it as UTF-8 text (Excel: \"CSV UTF-8\"; LibreOffice: character set "
                + "\"Unicode (UTF-8)\") and import it again.")
MAX_REPORTED_LINES = 10
TRIMMED = " \t\n\r\u000b\u000c\u00a0\u3000\ufeff"

# True when running as JavaScript (chr is String.fromCharCode there, which keeps 16 bits).
_IN_JS = ord(chr(0x10000)) != 0x10000


class TableError(ValueError):
    """The file cannot be read as a table; the message says why and what to do."""


def trim(text):
    """``text`` without surrounding white space: ASCII white space, no-break space (U+00A0),
    ideographic space (U+3000) and byte order marks (U+FEFF). A fixed set, because
    ``str.strip`` in CPython and ``trim`` in JavaScript differ on some characters."""
    start = 0
    end = len(text)
    while start < end and TRIMMED.find(text[start]) >= 0:
        start += 1
    while end > start and TRIMMED.find(text[end - 1]) >= 0:
        end -= 1
    return text[start:end]


def _hex_byte(value):
    digits = "0123456789ABCDEF"
    return "0x" + digits[value >> 4] + digits[value & 15]


def _megabytes(size):
    """``size`` bytes in MB with one decimal, e.g. "63.2" (no format specs in the browser)."""
    tenths = (size * 10 + MB // 2) // MB
    return str(tenths // 10) + "." + str(tenths % 10)


def check_size(size, limit):
    """Refuse a file of ``size`` bytes above ``limit`` bytes (None: DEFAULT_MAX_BYTES).

    Raises TableError naming both sizes. Returns None.
    """
    if limit is None:
        limit = DEFAULT_MAX_BYTES
    if size > limit:
        raise TableError("The file is " + _megabytes(size) + " MB; files of at most "
                         + _megabytes(limit) + " MB can be imported. Keep part of its rows "
                         + "(or split it) and import again.")
    return None


def _continuation(data, start, count, lowest, highest):
    """True if ``data[start+1 .. start+count]`` are continuation bytes and the second byte
    lies in [lowest, highest] (the ranges that exclude overlong forms and surrogates)."""
    if start + count >= len(data):
        return False
    if data[start + 1] < lowest or data[start + 1] > highest:
        return False
    for i in range(start + 2, start + count + 1):
        if data[i] < 0x80 or data[i] > 0xBF:
            return False
    return True


def first_invalid_utf8(data):
    """Offset of the first byte that does not start a valid UTF-8 sequence, or -1.

    Valid means what strict decoders accept (Python's, and TextDecoder with ``fatal``): no
    overlong forms, no surrogates, nothing above U+10FFFF.
    """
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        ok = False
        size = 0
        if b >= 0xC2 and b <= 0xDF:
            size = 1
            ok = _continuation(data, i, 1, 0x80, 0xBF)
        elif b == 0xE0:
            size = 2
            ok = _continuation(data, i, 2, 0xA0, 0xBF)
        elif b == 0xED:
            size = 2
            ok = _continuation(data, i, 2, 0x80, 0x9F)
        elif b >= 0xE1 and b <= 0xEF:
            size = 2
            ok = _continuation(data, i, 2, 0x80, 0xBF)
        elif b == 0xF0:
            size = 3
            ok = _continuation(data, i, 3, 0x90, 0xBF)
        elif b >= 0xF1 and b <= 0xF3:
            size = 3
            ok = _continuation(data, i, 3, 0x80, 0xBF)
        elif b == 0xF4:
            size = 3
            ok = _continuation(data, i, 3, 0x80, 0x8F)
        if not ok:
            return i
        i += size + 1
    return -1


def _line_of_byte(data, offset):
    line = 1
    for i in range(offset):
        if data[i] == 10:
            line += 1
    return line


def decode_text(data, limit):
    """The text of a file's bytes, refusing what is not UTF-8 text.

    data: bytes (CPython) or a Uint8Array (browser); limit: the size limit in bytes (None:
    DEFAULT_MAX_BYTES). A UTF-8 byte order mark is dropped. Raises TableError for a file
    over the limit, a zip file (an .xlsx workbook), UTF-16 text, or bytes that are not UTF-8
    (naming the line and byte offset of the first bad byte).
    """
    n = len(data)
    check_size(n, limit)
    if n >= 4 and data[0] == 0x50 and data[1] == 0x4B and data[2] == 3 and data[3] == 4:
        raise TableError("This is a zip file (an Excel .xlsx workbook?), not text. Save the "
                         + "sheet as CSV UTF-8 and import that file.")
    if n >= 2 and ((data[0] == 0xFF and data[1] == 0xFE) or (data[0] == 0xFE
                                                             and data[1] == 0xFF)):
        raise TableError("This file is UTF-16 text. " + SAVE_AS_UTF8)
    start = 3 if n >= 3 and data[0] == 0xEF and data[1] == 0xBB and data[2] == 0xBF else 0
    try:
        text = utf8_decode(data, start, n)
    except ValueError:
        bad = first_invalid_utf8(data)
        where = "" if bad < 0 else (" at line " + str(_line_of_byte(data, bad)) + " (byte "
                                    + str(bad + 1) + ", " + _hex_byte(data[bad]) + ")")
        raise TableError("The file is not UTF-8 text" + where + "; it was probably saved as "
                         + "Windows-1252 or Latin-1. " + SAVE_AS_UTF8)
    return text


def _line_at(text, index):
    """The 1-based line of ``text[index]`` (CRLF, LF and CR each end a line)."""
    line = 1
    for i in range(index):
        c = text[i]
        if c == "\n" or (c == "\r" and (i + 1 >= len(text) or text[i + 1] != "\n")):
            line += 1
    return line


def check_text(text):
    """Refuse text that is not the text of a file: NUL characters (a binary or UTF-16
    file) or U+FFFD replacement characters (text decoded with the wrong encoding).

    Raises TableError naming the line. Returns None.
    """
    nul = text.find("\u0000")
    if nul >= 0:
        raise TableError("The file holds NUL characters (line " + str(_line_at(text, nul))
                         + "): it is a binary file or UTF-16 text, not UTF-8 text. "
                         + SAVE_AS_UTF8)
    bad = text.find("\ufffd")
    if bad >= 0:
        raise TableError("The file holds the replacement character \ufffd (line "
                         + str(_line_at(text, bad)) + "), the mark of text once read with "
                         + "the wrong encoding. Take the original file: " + SAVE_AS_UTF8)
    return None


def format_for_name(name):
    """The format a file name's extension stands for ("csv", "tsv", "jsonl") or None."""
    lower = ascii_lower(name)
    for ext, fmt in [[".csv", "csv"], [".tsv", "tsv"], [".tab", "tsv"], [".jsonl", "jsonl"],
                     [".ndjson", "jsonl"], [".json", "jsonl"]]:
        if lower.endswith(ext):
            return fmt
    return None


def ascii_lower(text):
    """Lowercase A-Z only (the same in every runtime, unlike full Unicode lowercasing)."""
    out = []
    for c in text:
        code = ord(c)
        out.append(chr(code + 32) if code >= 65 and code <= 90 else c)
    return "".join(out)


def _first_line(text):
    ends = [text.find("\n"), text.find("\r")]
    end = len(text)
    for e in ends:
        if e >= 0 and e < end:
            end = e
    return text[0:end]


def _count(text, ch):
    count = 0
    pos = text.find(ch)
    while pos >= 0:
        count += 1
        pos = text.find(ch, pos + 1)
    return count


def sniff_delimiter(text):
    """The delimiter of delimited text: the most frequent of tab, ";" and "," in its first
    line (ties: "," then tab), so Excel's semicolon CSV is read too."""
    line = _first_line(text)
    best = ","
    most = _count(line, ",")
    for d in ["\t", ";"]:
        if _count(line, d) > most:
            best = d
            most = _count(line, d)
    return best


def _next(text, ch, pos, cached):
    """Index of the next ``ch`` at or after ``pos`` (len(text) if none), reusing ``cached``
    while it is still ahead of ``pos``: each character is searched past at most once."""
    if cached >= pos:
        return cached
    found = text.find(ch, pos)
    return len(text) if found < 0 else found


def _breaks(chunk):
    """Line breaks in ``chunk``: each LF, and each CR not followed by LF."""
    return _count(chunk, "\n") + _count(chunk, "\r") - _count(chunk, "\r\n")


def parse_delimited(text, delimiter):
    """Records of delimited text: ``{"records": [[fields]], "lines": [start line]}``.

    Raises TableError for a quoted field that is never closed.
    """
    records = []
    lines = []
    n = len(text)
    pos = 0
    line = 1
    nd = -1
    nl = -1
    nc = -1
    while pos < n:
        row = []
        row_line = line
        quoted_any = False
        while True:
            buf = []
            if pos < n and text[pos] == '"':
                quoted_any = True
                pos += 1
                while True:
                    q = text.find('"', pos)
                    if q < 0:
                        raise TableError("A quoted field that starts on line " + str(row_line)
                                         + " is never closed. Check the quotes around that "
                                         + "line (a quote inside a quoted text is written \"\").")
                    chunk = text[pos:q]
                    buf.append(chunk)
                    line += _breaks(chunk)
                    if q + 1 < n and text[q + 1] == '"':
                        buf.append('"')
                        pos = q + 2
                    else:
                        pos = q + 1
                        break
            nd = _next(text, delimiter, pos, nd)
            nl = _next(text, "\n", pos, nl)
            nc = _next(text, "\r", pos, nc)
            end = min(nd, min(nl, nc))
            buf.append(text[pos:end])
            row.append("".join(buf))
            pos = end
            if pos >= n:
                break
            if text[pos] == delimiter:
                pos += 1
                continue
            pos += 2 if text[pos] == "\r" and pos + 1 < n and text[pos + 1] == "\n" else 1
            line += 1
            break
        if len(row) == 1 and len(row[0]) == 0 and not quoted_any:
            continue
        records.append(row)
        lines.append(row_line)
    return {"records": records, "lines": lines}


def _is_object(value):
    out = False
    # __pragma__ ('skip')
    out = isinstance(value, dict)
    # __pragma__ ('noskip')
    #?out = value is not None and typeof (value) == "object" and not Array.isArray (value)
    return out


def _is_index_key(key):
    """True for keys JavaScript orders first: canonical array indices "0" .. "4294967294"."""
    if len(key) == 0 or len(key) > 10 or (len(key) > 1 and key[0] == "0"):
        return False
    for c in key:
        if c < "0" or c > "9":
            return False
    return float(key) < 4294967295


def _own_keys(obj):
    """An object's keys in JavaScript's order: index keys ascending, then the others."""
    keys = []
    # __pragma__ ('skip')
    keys = list(obj.keys())
    index = sorted([k for k in keys if _is_index_key(k)], key=lambda k: float(k))
    keys = index + [k for k in keys if not _is_index_key(k)]
    # __pragma__ ('noskip')
    #?keys = Object ['keys'] (obj)
    return keys


def value_text(value):
    """A JSON value as the string a table holds (see the module docstring)."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if is_number(value):
        out = str(value)
        # __pragma__ ('skip')
        out = _js_number_text(value)
        # __pragma__ ('noskip')
        return out
    return _json_text(value)


def _json_text(value):
    """Compact JSON of an object or array, numbers written as value_text writes them."""
    if value is None or value is True or value is False or is_number(value):
        return "null" if value is None else value_text(value)
    if isinstance(value, str):
        return json_dumps(value)
    parts = []
    if _is_object(value):
        for key in _own_keys(value):
            parts.append(json_dumps(key) + ":" + _json_text(value[key]))
        return "{" + ",".join(parts) + "}"
    for item in value:
        parts.append(_json_text(item))
    return "[" + ",".join(parts) + "]"


# __pragma__ ('skip')
def _js_number_text(value):
    """``String(value)`` as JavaScript writes a finite number (CPython only)."""
    if value % 1 == 0 and abs(value) < 1e21:
        return str(int(value))
    text = repr(float(value))
    if "e" not in text:
        return text          # repr and JavaScript agree without an exponent
    sign = "-" if text[0] == "-" else ""
    mantissa, exponent = text.lstrip("-").split("e")
    digits = mantissa.replace(".", "").rstrip("0") or "0"
    point = int(exponent) + 1       # value = 0.<digits> x 10**point
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    rest = "." + digits[1:] if len(digits) > 1 else ""
    power = point - 1
    return sign + digits[0] + rest + "e" + ("+" if power > 0 else "-") + str(abs(power))
# __pragma__ ('noskip')


def _json_objects(text):
    """[objects, their lines] of JSON Lines text, or of one JSON array of objects."""
    objects = []
    lines = []
    stripped = trim(text)
    if len(stripped) > 0 and stripped[0] == "[":
        try:
            items = json_loads(stripped)
        except ValueError:
            raise TableError("The file starts like a JSON array but is not valid JSON. Write "
                             + "one object per line (JSON Lines) or fix the JSON.")
        for i in range(len(items)):
            if not _is_object(items[i]):
                raise TableError("Item " + str(i + 1) + " of the JSON array is not an object; "
                                 + "each row must look like {\"text\": \"...\", \"label\": "
                                 + "\"...\"}.")
            objects.append(items[i])
            lines.append(i + 1)
        return [objects, lines]
    parts = text.split("\n")
    for i in range(len(parts)):
        line = trim(parts[i])
        if len(line) == 0:
            continue
        try:
            value = json_loads(line)
        except ValueError:
            value = None
        if not _is_object(value):
            raise TableError("Line " + str(i + 1) + " is not a JSON object. A JSON Lines file "
                             + "holds one object per line, like {\"text\": \"...\", "
                             + "\"label\": \"...\"}.")
        objects.append(value)
        lines.append(i + 1)
    return [objects, lines]


def _jsonl_table(text):
    found = _json_objects(text)
    objects = found[0]
    columns = []
    seen = {}
    for obj in objects:
        for key in _own_keys(obj):
            if ("k" + key) not in seen:
                seen["k" + key] = len(columns)
                columns.append(key)
    records = []
    for obj in objects:
        row = ["" for _ in range(len(columns))]
        for key in _own_keys(obj):
            row[seen["k" + key]] = value_text(obj[key])
        records.append(row)
    return {"format": "jsonl", "delimiter": "", "columns": columns, "records": records,
            "lines": found[1], "malformed": {"count": 0, "lines": []}}


def _column_names(header):
    """Header fields as unique, trimmed names: "" becomes "column N", a repeat "name (2)"."""
    names = []
    seen = {}
    for i in range(len(header)):
        name = trim(header[i])
        if len(name) == 0:
            name = "column " + str(i + 1)
        base = name
        k = 2
        while ("k" + name) in seen:
            name = base + " (" + str(k) + ")"
            k += 1
        seen["k" + name] = True
        names.append(name)
    return names


def _delimited_table(text, fmt, delimiter):
    parsed = parse_delimited(text, delimiter)
    records = parsed["records"]
    if len(records) == 0:
        return {"format": fmt, "delimiter": delimiter, "columns": [], "records": [],
                "lines": [], "malformed": {"count": 0, "lines": []}}
    columns = _column_names(records[0])
    width = len(columns)
    kept = []
    kept_lines = []
    bad = 0
    bad_lines = []
    for r in range(1, len(records)):
        row = records[r]
        extra = False
        for j in range(width, len(row)):
            if len(trim(row[j])) > 0:
                extra = True
        if extra:
            bad += 1
            if len(bad_lines) < MAX_REPORTED_LINES:
                bad_lines.append(parsed["lines"][r])
            continue
        kept.append([row[j] if j < len(row) else "" for j in range(width)])
        kept_lines.append(parsed["lines"][r])
    return {"format": fmt, "delimiter": delimiter, "columns": columns, "records": kept,
            "lines": kept_lines, "malformed": {"count": bad, "lines": bad_lines}}


def read_table(text, fmt):
    """A table (see the module docstring) from a file's text.

    fmt: "csv" (delimiter sniffed: "," or ";", or tab), "tsv", "jsonl", or None to decide
    from the text (a first character "{" or "[" means JSON). The first record of a delimited
    file is its header. A leading byte order mark is ignored.
    Raises TableError for NUL or replacement characters (see check_text), an unknown format,
    a quote never closed, or a line of a JSON file that is not an object.
    """
    if len(text) > 0 and text[0] == "\ufeff":
        text = text[1:]
    check_text(text)
    stripped = trim(text)
    if fmt is None:
        fmt = "jsonl" if len(stripped) > 0 and (stripped[0] == "{" or stripped[0] == "[") \
            else "csv"
    if fmt not in FORMATS:
        raise TableError("Unknown file format '" + str(fmt) + "'; allowed: "
                         + ", ".join(FORMATS) + ".")
    if fmt == "jsonl":
        return _jsonl_table(text)
    if fmt == "tsv":
        return _delimited_table(text, "tsv", "\t")
    delimiter = sniff_delimiter(text)
    return _delimited_table(text, "tsv" if delimiter == "\t" else "csv", delimiter)
