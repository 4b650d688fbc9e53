"""Labelled files read by the core's import (``tinybert_core.text_file``, ``table_parse``
and ``table_import``), the code the page's import uses, with its refusals as InputError."""
from pathlib import Path

from tinybert.errors import InputError
from tinybert_core.table_import import column_texts, labelled_rows
from tinybert_core.table_parse import read_table
from tinybert_core.text_file import (
    DEFAULT_MAX_BYTES,
    TableError,
    check_size,
    decode_text,
    format_for_name,
)


def read_file_table(path, fmt, max_bytes=DEFAULT_MAX_BYTES):
    """The table in file ``path``; fmt: "csv", "tsv", "jsonl" or None (from the file name's
    extension, else from the text). Raises InputError for a missing or unreadable file and for
    everything the core refuses (size, encoding, format), the file named in the message."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"No such file: {path}")
    try:
        check_size(path.stat().st_size, max_bytes)
        text = decode_text(path.read_bytes(), max_bytes)
        return read_table(text, fmt or format_for_name(path.name))
    except TableError as error:
        raise InputError(f"{path}: {error}") from None
    except OSError as error:
        raise InputError(f"Cannot read {path}: {error.strerror}.") from None


def read_labelled(path, text_column, label_column, fmt, max_labels=None, min_labels=None):
    """The core's ``labelled_rows`` result for file ``path`` (columns None: guessed; label
    limits None: the core's defaults, 2 to 50).

    Raises InputError (see read_file_table; and missing columns, too few or too many labels,
    no rows)."""
    table = read_file_table(path, fmt)
    try:
        return labelled_rows(table, text_column, label_column, max_labels, min_labels)
    except TableError as error:
        raise InputError(f"{path}: {error}") from None


def read_texts(path, text_column, fmt):
    """The non-empty texts of one column of file ``path`` (None: the guessed text column)."""
    table = read_file_table(path, fmt)
    try:
        return column_texts(table, text_column)
    except TableError as error:
        raise InputError(f"{path}: {error}") from None


def _lines(report):
    more = ", ..." if report["count"] > len(report["lines"]) else ""
    return "line" + ("s " if len(report["lines"]) > 1 else " ") + \
        ", ".join(str(n) for n in report["lines"]) + more


def import_summary(path, result):
    """What the import kept and left out, in sentences (for stderr)."""
    counts = ", ".join(f"{label} {n}" for label, n in zip(result["labels"], result["counts"]))
    out = [f"{path}: {len(result['rows'])} examples of {result['records']} rows (text column "
           f"'{result['text_column']}', label column '{result['label_column']}'): {counts}."]
    for key, what in (("duplicates", "repeated a text with the same label"),
                      ("conflicts", "had a text that appears with different labels"),
                      ("empty", "had no text or no label"),
                      ("malformed", "had more fields than the header")):
        report = result[key]
        if report["count"] > 0:
            out.append(f"  left out: {report['count']} rows that {what} ({_lines(report)})")
    return "\n".join(out)
