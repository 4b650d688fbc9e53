# __pragma__ ('ecom')
"""A file's bytes as text (pure), for the import of labelled files (``table_parse``).

Refuses, with a TableError that says what is wrong and what to do: a file over the size limit,
a zip file (an .xlsx workbook), UTF-16 text, bytes that are not UTF-8 (naming the line and
byte of the first bad byte), and text with NUL or U+FFFD replacement characters. Also the
small text helpers the import shares, the same in CPython and in the browser.
"""
from tinybert_core.binary import utf8_decode

MB = 1000000
DEFAULT_MAX_BYTES = 50 * MB
SAVE_AS_UTF8 = ("Save it as UTF-8 text (Excel: \"CSV UTF-8\"; LibreOffice: character set "
                + "\"Unicode (UTF-8)\") and import it again.")
TRIMMED = " \t\n\r\u000b\u000c\u00a0\u3000\ufeff"


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
