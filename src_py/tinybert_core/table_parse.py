# __pragma__ ('ecom')
"""Labelled files as tables (pure): CSV, TSV or JSON Lines text to rows.

The same code reads a file in the page's import dialog (transpiled) and in ``python -m
tinybert`` (CPython). What is refused raises ``TableError`` with a message that says what is
wrong and what to do; bytes become text in ``tinybert_core.text_file``, and nothing here
guesses columns or labels (``tinybert_core.table_import``).

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
from tinybert_core.binary import json_dumps, json_loads
from tinybert_core.checks import is_number
from tinybert_core.text_file import TableError, check_text, trim

FORMATS = ["csv", "tsv", "jsonl"]
MAX_REPORTED_LINES = 10


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
