# __pragma__ ('ecom')
"""Labelled examples from a table (pure): which columns hold the text and the label, which
rows to keep, and the refusals a user can act on.

Used by ``python -m tinybert`` and, transpiled, by the page; a table comes from
``tinybert_core.table_parse.read_table``. Usage::

    table = read_table(decode_text(data, None), None)    # table_parse, text_file
    result = labelled_rows(table, None, None, None, None)    # guess both columns
    result["rows"]      # [[text, label], ...] in file order, one row per distinct text

Rules (the same wherever the import runs):

- Text and label are trimmed (``text_file.trim``). A row without text or without label is
  left out and counted in ``empty``.
- Each text is kept once. A text seen again with the same label is left out and counted in
  ``duplicates``; a text seen with different labels is ambiguous, so all its rows are left out
  and counted in ``conflicts``.
- Labels are listed in order of first appearance among the kept rows; that order is the
  order of the head's labels.
- Refused (TableImportError, saying what to do): a table without rows or with one column, a
  column name that is not in the table (the message lists the columns found), no row with
  both text and label, one label only (unless ``min_labels`` is 1), more than ``max_labels``
  labels (default 50) or a label longer than MAX_LABEL_LENGTH characters (both: "is this
  really the label column?").
"""
from tinybert_core.csv_out import to_csv
from tinybert_core.table_parse import MAX_REPORTED_LINES
from tinybert_core.text_file import TableError, ascii_lower, trim

DEFAULT_MAX_LABELS = 50
MAX_LABEL_LENGTH = 60
# Header names that say what a column holds, best first (compared in ASCII lowercase).
TEXT_NAMES = ["text", "sentence", "message", "body", "content", "review", "comment",
              "question", "utterance", "document", "tweet", "sms", "description", "title",
              "query"]
LABEL_NAMES = ["label", "labels", "class", "category", "target", "intent", "tag", "topic",
               "sentiment", "y"]


class TableImportError(TableError):
    """The table cannot give labelled examples; the message says why and what to do."""


def _quoted_list(names):
    return ", ".join(["'" + name + "'" for name in names])


def _column_index(table, name, role):
    """Index of column ``name``; TableImportError listing the columns if there is none."""
    columns = table["columns"]
    for i in range(len(columns)):
        if columns[i] == name:
            return i
    raise TableImportError("There is no " + role + " column '" + str(name) + "'. Columns found: "
                           + _quoted_list(columns) + ".")


def _by_name(columns, names, exclude):
    for wanted in names:
        for i in range(len(columns)):
            if i != exclude and ascii_lower(trim(columns[i])) == wanted:
                return i
    return -1


def _longest(table, exclude):
    """The column whose non-empty values are longest on average (ties: leftmost)."""
    best = -1
    best_mean = -1.0
    for i in range(len(table["columns"])):
        if i == exclude:
            continue
        total = 0
        count = 0
        for row in table["records"]:
            value = trim(row[i])
            if len(value) > 0:
                total += len(value)
                count += 1
        mean = total / count if count > 0 else 0.0
        if mean > best_mean:
            best = i
            best_mean = mean
    return best


def _distinct(table, i):
    seen = {}
    count = 0
    for row in table["records"]:
        value = trim(row[i])
        if len(value) > 0 and ("k" + value) not in seen:
            seen["k" + value] = True
            count += 1
    return count


def _fewest_values(table, exclude):
    """The column with the fewest distinct non-empty values, at least two if any column has
    two (a constant column is no label); ties: leftmost."""
    best = -1
    best_count = 0
    for i in range(len(table["columns"])):
        if i == exclude:
            continue
        count = _distinct(table, i)
        better = best < 0 or (count >= 2 and (best_count < 2 or count < best_count))
        if better:
            best = i
            best_count = count
    return best


def guess_columns(table):
    """The text and label columns a table most likely has.

    By header name first (TEXT_NAMES, LABEL_NAMES); otherwise the text is the column with
    the longest values and the label the column with the fewest distinct values (at least
    two). Returns ``{"text": name or None, "label": name or None, "text_by": "name" |
    "longest", "label_by": "name" | "fewest values"}`` (None when the table has fewer than
    two columns).
    """
    columns = table["columns"]
    out = {"text": None, "label": None, "text_by": None, "label_by": None}
    if len(columns) < 2:
        return out
    text = _by_name(columns, TEXT_NAMES, -1)
    label = _by_name(columns, LABEL_NAMES, text)
    out["text_by"] = "name"
    out["label_by"] = "name"
    if text < 0:
        text = _longest(table, label)
        out["text_by"] = "longest"
    if label < 0:
        label = _fewest_values(table, text)
        out["label_by"] = "fewest values"
    out["text"] = columns[text]
    out["label"] = columns[label]
    return out


def _note(report, line):
    report["count"] += 1
    if len(report["lines"]) < MAX_REPORTED_LINES:
        report["lines"].append(line)
    return None


def _choose(table, text_column, label_column):
    """[text index, label index] from given names, or guessed ones where None."""
    if len(table["records"]) == 0:
        raise TableImportError("The file has no rows" + (" below its header" if len(
            table["columns"]) > 0 else "") + ". Add one row per example (a text and its label).")
    if len(table["columns"]) < 2:
        raise TableImportError("The file has one column (" + _quoted_list(table["columns"])
                               + "); it needs a text column and a label column. In a CSV "
                               + "file, separate them by commas.")
    guess = guess_columns(table)
    text = _column_index(table, guess["text"] if text_column is None else text_column, "text")
    label = _column_index(table, guess["label"] if label_column is None else label_column,
                          "label")
    if text == label:
        raise TableImportError("The text and the label cannot both be column '"
                               + table["columns"][text] + "'. Columns found: "
                               + _quoted_list(table["columns"]) + ".")
    return [text, label]


def _first_rows(table, text, label, report):
    """[rows, their lines]: rows with text and label, each text once; fills the report's
    empty, duplicates and conflicts (every row of a text seen with two labels)."""
    records = table["records"]
    first_label = {}
    conflicted = {}
    for record in records:
        t = trim(record[text])
        y = trim(record[label])
        if len(t) == 0 or len(y) == 0:
            continue
        key = "k" + t
        if key not in first_label:
            first_label[key] = y
        elif first_label[key] != y:
            conflicted[key] = True
    rows = []
    lines = []
    kept = {}
    for r in range(len(records)):
        t = trim(records[r][text])
        y = trim(records[r][label])
        key = "k" + t
        if len(t) == 0 or len(y) == 0:
            _note(report["empty"], table["lines"][r])
        elif key in conflicted:
            _note(report["conflicts"], table["lines"][r])
        elif key in kept:
            _note(report["duplicates"], table["lines"][r])
        else:
            kept[key] = True
            rows.append([t, y])
            lines.append(table["lines"][r])
    return [rows, lines]


def _labels_and_counts(rows):
    labels = []
    counts = []
    index = {}
    for row in rows:
        key = "k" + row[1]
        if key not in index:
            index[key] = len(labels)
            labels.append(row[1])
            counts.append(0)
        counts[index[key]] += 1
    return [labels, counts]


def labelled_rows(table, text_column, label_column, max_labels, min_labels):
    """Labelled examples of a table.

    text_column, label_column: column names, or None to guess (guess_columns); max_labels:
    the most labels accepted (None: DEFAULT_MAX_LABELS); min_labels: the fewest (None: 2, what
    training needs; 1 to score a head on examples of one label).
    Returns ``{"rows": [[text, label]], "lines": [line of each row], "labels": [names in
    order of first appearance], "counts": [rows per label], "text_column", "label_column",
    "empty", "duplicates", "conflicts", "malformed": {"count", "lines" (the first
    MAX_REPORTED_LINES)}, "records": records read}``.
    Raises TableImportError (see the module docstring).
    """
    if max_labels is None:
        max_labels = DEFAULT_MAX_LABELS
    if min_labels is None:
        min_labels = 2
    chosen = _choose(table, text_column, label_column)
    report = {"empty": {"count": 0, "lines": []}, "duplicates": {"count": 0, "lines": []},
              "conflicts": {"count": 0, "lines": []}}
    kept = _first_rows(table, chosen[0], chosen[1], report)
    rows = kept[0]
    label_name = table["columns"][chosen[1]]
    if len(rows) == 0:
        raise TableImportError("No row has both a text (column '" + table["columns"][chosen[0]]
                               + "') and a label (column '" + label_name + "'). Columns "
                               + "found: " + _quoted_list(table["columns"]) + ".")
    found = _labels_and_counts(rows)
    labels = found[0]
    if len(labels) < min_labels:
        raise TableImportError("Every row has the label '" + labels[0] + "'. A classifier "
                               + "needs examples of at least two labels: add rows of another "
                               + "label, or choose another label column.")
    if len(labels) > max_labels:
        raise TableImportError("The label column '" + label_name + "' has " + str(len(labels))
                               + " different values; at most " + str(max_labels) + " labels "
                               + "can be trained. Is this really the label column? Columns "
                               + "found: " + _quoted_list(table["columns"]) + ".")
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH:
            raise TableImportError("The label column '" + label_name + "' holds values "
                                   + "longer than " + str(MAX_LABEL_LENGTH) + " characters, "
                                   + "like '" + label[0:40] + "...'. Is this really the label "
                                   + "column? Columns found: " + _quoted_list(table["columns"])
                                   + ".")
    return {"rows": rows, "lines": kept[1], "labels": labels, "counts": found[1],
            "text_column": table["columns"][chosen[0]], "label_column": label_name,
            "empty": report["empty"], "duplicates": report["duplicates"],
            "conflicts": report["conflicts"], "malformed": table["malformed"],
            "records": len(table["records"])}


def column_texts(table, column):
    """The non-empty trimmed values of one column (the texts to embed), in file order.

    column: a name, or None for the guessed text column. Raises TableImportError for a
    table without rows or without that column.
    """
    if len(table["records"]) == 0:
        raise TableImportError("The file has no rows. Add one row per text.")
    if column is None:
        if len(table["columns"]) == 1:
            column = table["columns"][0]
        else:
            column = guess_columns(table)["text"]
    i = _column_index(table, column, "text")
    texts = []
    for row in table["records"]:
        value = trim(row[i])
        if len(value) > 0:
            texts.append(value)
    return texts


def examples_csv(rows):
    """CSV text (header ``text,label``, CRLF) of ``[[text, label], ...]``; read back by
    ``read_table`` and ``labelled_rows`` it gives the same rows."""
    return to_csv(["text", "label"], rows)
