"""CSV text for downloads (pure): RFC 4180 quoting, CRLF line ends."""


def csv_field(value):
    """One field: quoted when it holds a comma, a quote, a line break or edge spaces."""
    text = str(value)
    needs = False
    for ch in [",", '"', "\n", "\r"]:
        if text.find(ch) >= 0:
            needs = True
    if len(text) > 0 and (text[0] == " " or text[len(text) - 1] == " "):
        needs = True
    if not needs:
        return text
    return '"' + '""'.join(text.split('"')) + '"'


def to_csv(header, rows):
    """CSV text of ``header`` (list of names) and ``rows`` (lists of strings; format numbers
    first: ``str(1.0)`` is "1.0" in CPython but "1" in the browser)."""
    lines = [",".join([csv_field(name) for name in header])]
    for row in rows:
        lines.append(",".join([csv_field(value) for value in row]))
    return "\r\n".join(lines) + "\r\n"
