"""Labelled files in the page (Chromium, the built page against the real server): the import
through ``tinybert.importExamples`` and through the panel (file picker, drop zone, columns,
preview, new labels, progress, cancel, resume after a reload), held-out evaluation and export,
and bad files refused with the core's messages, changing nothing stored."""
import csv
import io
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.support.browser import wait_ready
from tests.support.page_js import EMBED_ALL, status_after
from tinybert_core.evaluation import holdout_evaluate
from tinybert_core.head_file import decode_head_file
from tinybert_core.table_import import labelled_rows
from tinybert_core.table_parse import read_table

FIXTURE = Path(__file__).parents[1] / "fixtures" / "domain_sentences.csv"
SMALL = ("text,label\r\n"
         "win a free prize now,spam\r\n"
         "lunch at noon?,ham\r\n"
         "win a free prize now,spam\r\n"          # a repeat
         ",ham\r\n"                               # no text
         "call me later,ham\r\n"                  # one text, two labels: both left out
         "call me later,spam\r\n"
         "claim your reward today,spam\r\n"
         "see you at the meeting,ham\r\n")
SMALL_ROWS = [["win a free prize now", "spam"], ["lunch at noon?", "ham"],
              ["claim your reward today", "spam"], ["see you at the meeting", "ham"]]
MORE = ('{"message": "lunch at noon?", "category": "ham"}\n'
        '{"message": "your parcel is waiting, pay the fee", "category": "phishing"}\n'
        '{"message": "thanks, got it", "category": "ham"}\n')

IMPORT = "([data, options]) => window.tinybert.importExamples(data, options)"
IMPORT_BYTES = ("([bytes, options]) => "
                "window.tinybert.importExamples(new Uint8Array(bytes), options)")
STATE = """async () => ({examples: await window.tinybert.examples(),
                         labels: await window.tinybert.labels(),
                         pending: (await window.tinybert.importStatus())})"""
MISSES = "async () => (await window.tinybert.stats()).embeddings.misses"


def pairs(page):
    return [[e["text"], e["label"]] for e in page.evaluate("() => window.tinybert.examples()")]


def exported_head(page):
    """Labels, weights and bias of the page's head (its Export, decoded by the core)."""
    data = bytes(page.evaluate("async () => Array.from(await window.tinybert.exportHead())"))
    head = decode_head_file(data)
    return head["labels"], head["weights"], head["bias"]


def refusal(page, script, arg):
    """The message of the error a call rejects with (the page's Error text)."""
    with pytest.raises(Exception) as caught:
        page.evaluate(script, arg)
    return str(caught.value)


# --- the API ----------------------------------------------------------------------------------

def test_import_examples_adds_the_rows_the_core_keeps(page):
    result = page.evaluate(IMPORT, [SMALL, {"name": "small.csv"}])
    assert result == {"added": 4, "skipped": 4, "labels": ["spam", "ham"], "cancelled": False,
                      "skipped_by": {"existing": 0, "duplicates": 1, "conflicts": 2,
                                     "empty": 1, "malformed": 0}}
    assert pairs(page) == SMALL_ROWS
    # A page without examples takes the file's labels instead of its defaults.
    assert page.evaluate("() => window.tinybert.labels()") == ["spam", "ham"]
    assert page.evaluate(MISSES) == 4

    # JSON Lines, columns guessed by name; a text already stored is left out; a new label is
    # added to the page's labels.
    result = page.evaluate(IMPORT, [MORE, {}])
    assert (result["added"], result["skipped_by"]["existing"]) == (2, 1)
    assert page.evaluate("() => window.tinybert.labels()") == ["spam", "ham", "phishing"]
    assert pairs(page)[4:] == [["your parcel is waiting, pay the fee", "phishing"],
                               ["thanks, got it", "ham"]]
    assert page.evaluate(MISSES) == 6          # each new text embedded once
    # Bytes work as text does; the same file again adds nothing.
    again = page.evaluate(IMPORT_BYTES, [list(SMALL.encode()), {"format": "csv"}])
    assert again["added"] == 0 and again["skipped_by"]["existing"] == 4
    assert page.evaluate(MISSES) == 6


def test_evaluate_cross_validates_or_holds_out_as_the_core_does(page):
    text = FIXTURE.read_text(encoding="utf-8")
    page.evaluate(IMPORT, [text, {"name": FIXTURE.name}])
    cv = page.evaluate("() => window.tinybert.evaluate()")
    assert sorted(cv) == ["accuracy", "confusion", "counts", "examples", "folds", "labels"]
    assert cv["examples"] == 240 and cv["folds"] == 5 and cv["counts"] == [80, 80, 80]

    held = page.evaluate("() => window.tinybert.evaluate({holdout: 0.2})")
    # The same split, head and scores as the core computes in CPython on the page's own
    # embeddings (all from the page's cache: nothing is embedded again).
    misses = page.evaluate(MISSES)
    rows = labelled_rows(read_table(text, "csv"), None, None, None, None)["rows"]
    xs = page.evaluate(EMBED_ALL, [r[0] for r in rows])
    assert page.evaluate(MISSES) == misses
    labels = ["yelp", "imdb", "amazon"]
    expected = holdout_evaluate(labels, 384, xs, [labels.index(r[1]) for r in rows], None, 0.2)
    report = expected["report"]
    assert held == dict(report, train_examples=192, counts=[80, 80, 80])
    assert held["examples"] == 48 and held["accuracy"] >= 0.85
    # Training options beside the fraction, and bad ones.
    other = page.evaluate("() => window.tinybert.evaluate({holdout: 0.5, seed: 3})")
    assert other["examples"] == 120 and other["train_examples"] == 120
    assert "between 0 and 1" in refusal(page, "() => window.tinybert.evaluate({holdout: 2})",
                                        None)
    assert "Unknown training option 'folds'" in refusal(
        page, "() => window.tinybert.evaluate({holdout: 0.2, folds: 3})", None)
    # The page's head is not what evaluation trained.
    assert page.evaluate("() => window.tinybert.predict('hi')")["scores"] == {
        "yelp": pytest.approx(1 / 3), "imdb": pytest.approx(1 / 3),
        "amazon": pytest.approx(1 / 3)}


def test_export_examples_is_the_core_csv_of_every_example(page):
    page.evaluate(IMPORT, [SMALL, {}])
    page.evaluate("() => window.tinybert.addExample('a text, with \"quotes\"\\nand a break', "
                  "'ham')")
    exported = page.evaluate("() => window.tinybert.exportExamples()")
    rows = list(csv.reader(io.StringIO(exported, newline="")))
    assert rows[0] == ["text", "label"] and rows[1:] == pairs(page)
    again = labelled_rows(read_table(exported, None), None, None, None, None)
    assert again["rows"] == pairs(page)


BAD_INPUT = [
    ("wrong encoding", IMPORT_BYTES, "latin-1",
     "The file is not UTF-8 text at line 2 (byte 13, 0xE9); it was probably saved as "
     "Windows-1252 or Latin-1."),
    ("missing column", IMPORT, [SMALL, {"labelColumn": "kind"}],
     "There is no label column 'kind'. Columns found: 'text', 'label'."),
    ("52 MB", "() => window.tinybert.importExamples(new Uint8Array(52e6).fill(97))", None,
     "The file is 52.0 MB; files of at most 50.0 MB can be imported."),
    ("one label", IMPORT, ["text,label\nwin now,spam\nfree,spam\n", {}],
     "Every row has the label 'spam'. A classifier needs examples of at least two labels"),
    ("500 labels", IMPORT, ["text,label\n" + "".join("text %d,%d\n" % (i, i)
                                                     for i in range(500)), {}],
     "The label column 'label' has 500 different values; at most 50 labels can be trained. "
     "Is this really the label column?"),
    ("new label refused", IMPORT, [MORE, {"addLabels": False}],
     "The file has labels that are not labels here (phishing); nothing was imported."),
    ("unknown option", IMPORT, [SMALL, {"textColum": "text"}],
     "Unknown import option 'textColum'; allowed: format, textColumn, labelColumn, name, "
     "addLabels."),
    ("not a file", "() => window.tinybert.importExamples(42)", None,
     "Expected the text or the bytes (Uint8Array) of a file."),
]


def test_bad_files_are_refused_with_the_cores_message_and_change_nothing(page):
    page.evaluate(IMPORT, [SMALL, {}])
    page.evaluate("() => window.tinybert.train({epochs: 2})")
    before = page.evaluate(STATE)
    head = exported_head(page)
    misses = page.evaluate(MISSES)
    latin = list("text,label\nd\xe9j\xe0 vu,a\nb,c\n".encode("latin-1"))
    for case, script, arg, message in BAD_INPUT:
        arg = [latin, {}] if arg == "latin-1" else arg
        assert message in refusal(page, script, arg), case
        assert page.evaluate(STATE) == before, case
    assert exported_head(page) == head
    assert page.evaluate(MISSES) == misses


# --- the panel ---------------------------------------------------------------------------------

def choose(page, name, data):
    """Choose a file in the panel's picker and wait for what the page says about it."""
    before = page.get_attribute("#status", "data-seq")
    page.set_input_files("#import-data-file", files=[{"name": name, "mimeType": "text/csv",
                                                      "buffer": data}])
    page.wait_for_function("b => document.querySelector('#status').dataset.seq !== b",
                           arg=before)
    return page.text_content("#status"), page.get_attribute("#status", "class")


def wait_status(page, before, prefix):
    page.wait_for_function(
        "([b, p]) => document.querySelector('#status').dataset.seq !== b && "
        "document.querySelector('#status').textContent.startsWith(p)", arg=[before, prefix],
        timeout=120_000)
    return page.text_content("#status")


def test_the_panel_previews_imports_trains_evaluates_and_exports(page):
    message, kind = choose(page, "small.csv", SMALL.encode())
    assert "ready" in kind and message.startswith("Check the columns"), message
    assert page.input_value("#import-text-column") == "text"
    assert page.input_value("#import-label-column") == "label"
    assert page.text_content("#import-summary") == (
        "small.csv: 8 rows, 4 examples to add (spam 2, ham 2); left out: 1 repeated text, "
        "2 rows of texts with two labels, 1 row without text or label; its labels replace "
        "Dev, Meeting, Email (no examples yet).")
    cells = page.locator("#import-preview td").all_text_contents()
    assert cells == [value for row in SMALL_ROWS for value in row]

    # The same column twice is refused with the core's message; Import waits for a good plan.
    before = page.get_attribute("#status", "data-seq")
    page.select_option("#import-label-column", "text")
    assert "cannot both be column 'text'" in wait_status(page, before, "The text")
    assert page.is_disabled("#import-start")
    before = page.get_attribute("#status", "data-seq")
    page.select_option("#import-label-column", "label")
    wait_status(page, before, "Check the first rows")
    assert page.is_enabled("#import-start")

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    before = page.get_attribute("#status", "data-seq")
    page.click("#import-start")
    assert wait_status(page, before, "Added") == (
        "Added 4 examples (left out: 1 repeated text, 2 rows of texts with two labels, 1 row "
        "without text or label). Press Train on all examples to use them.")
    assert asked == ["This page has no examples yet. Use the file's labels (spam, ham) "
                     "instead of Dev, Meeting, Email?"]
    assert pairs(page) == SMALL_ROWS
    assert page.evaluate("() => document.querySelector('#import-progress').value") == 4
    assert page.text_content("#example-counts") == "Examples — spam: 2, ham: 2."

    message, _ = status_after(page, "#train-all")
    assert message.startswith("Trained 5 epochs on 4 examples"), message
    assert page.locator("#epoch-log tbody tr").count() == 5
    page.fill("#holdout-percent", "50")
    message, _ = status_after(page, "#evaluate-holdout")
    assert message.startswith("Held-out accuracy ") and "% on 2 examples" in message, message
    assert page.text_content("#holdout-accuracy").startswith("Held-out accuracy: ")
    assert page.locator("#holdout-labels tr").count() == 3
    assert page.locator("#holdout-confusion tr").count() == 3

    with page.expect_download() as download:
        page.click("#export-examples")
    assert download.value.suggested_filename == "examples.csv"
    exported = Path(download.value.path()).read_bytes().decode("utf-8")
    assert exported == page.evaluate("() => window.tinybert.exportExamples()")


def test_a_dropped_file_is_read_like_a_chosen_one(page):
    before = page.get_attribute("#status", "data-seq")
    page.evaluate("""text => {
      const data = new DataTransfer();
      data.items.add(new File([text], 'dropped.jsonl'));
      const zone = document.querySelector('#import-drop');
      zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, cancelable: true}));
      zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, cancelable: true}));
    }""", MORE)
    wait_status(page, before, "Check the columns")
    assert page.input_value("#import-text-column") == "message"
    assert page.input_value("#import-label-column") == "category"
    assert page.text_content("#import-summary").startswith(
        "dropped.jsonl: 3 rows, 3 examples to add (ham 2, phishing 1)")


def test_the_panel_refuses_bad_files_and_a_declined_label_change(page, tmp_path):
    page.evaluate(IMPORT, [SMALL, {}])
    before = page.evaluate(STATE)
    message, kind = choose(page, "latin.csv", "text,label\nd\xe9j\xe0 vu,a\nb,c\n"
                           .encode("latin-1"))
    assert "error" in kind and message.startswith(
        "The file is not UTF-8 text at line 2 (byte 13, 0xE9)"), message
    assert page.is_disabled("#import-start")
    big = tmp_path / "big.csv"
    big.write_bytes(b"text,label\n" + b"a" * 52_000_000)
    before_seq = page.get_attribute("#status", "data-seq")
    page.set_input_files("#import-data-file", str(big))
    assert wait_status(page, before_seq, "The file is 52.0 MB").startswith(
        "The file is 52.0 MB; files of at most 50.0 MB can be imported.")
    message, kind = choose(page, "one.csv", b"text,label\nwin now,spam\nfree,spam\n")
    assert "error" in kind and message.startswith("Every row has the label 'spam'.")
    # A file with a new label, declined.
    choose(page, "more.jsonl", MORE.encode())
    page.once("dialog", lambda dialog: dialog.dismiss())
    message, _ = status_after(page, "#import-start")
    assert message == "Nothing was imported: the labels were left as they were."
    assert page.evaluate(STATE) == before


def start_panel_import(page, path):
    choose(page, path.name, path.read_bytes())
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#import-start")
    page.wait_for_function("() => document.querySelector('#import-progress').value >= 20")


def test_cancel_keeps_what_was_added_and_stops(page):
    start_panel_import(page, FIXTURE)
    before = page.get_attribute("#status", "data-seq")
    page.click("#import-cancel")
    message = wait_status(page, before, "Import cancelled")
    added = len(pairs(page))
    assert message == "Import cancelled after adding %d examples; they are kept." % added
    assert 20 <= added < 240
    assert page.evaluate(MISSES) == added
    assert page.evaluate("() => window.tinybert.importStatus()")["running"] is False
    assert page.is_hidden("#import-pending") and page.is_enabled("#import-data-file")
    page.reload()
    wait_ready(page)
    assert len(pairs(page)) == added and page.is_hidden("#import-pending")


def test_a_reload_mid_import_resumes_without_embedding_a_row_twice(page):
    """Page 1 stores each example as it is embedded; the reload kills it mid-way. Page 2
    goes on by itself and embeds exactly the rows page 1 had not stored."""
    expected = labelled_rows(read_table(FIXTURE.read_text(encoding="utf-8"), None),
                             None, None, None, None)["rows"]
    start_panel_import(page, FIXTURE)
    # Both read in the same turn of the page's event loop: one consistent snapshot.
    stored, misses = page.evaluate("""() => Promise.all([
        window.tinybert.examples().then(e => e.length),
        window.tinybert.stats().then(s => s.embeddings.misses)])""")
    # While importing, every encoder run so far is a stored example (one may be in flight).
    assert misses - stored in (0, 1)
    page.reload()
    wait_ready(page)
    # Page 2 read the stored examples before it resumed: those are page 1's.
    restored = page.evaluate("""async () => {
        const stats = await window.tinybert.stats();
        return performance.timeOrigin + stats.timings.stages.restored; }""")
    deadline = time.monotonic() + 120
    while page.evaluate("async () => (await window.tinybert.importStatus()).running"
                        " || (await window.tinybert.examples()).length < 240"):
        assert time.monotonic() < deadline, "the import did not resume and end"
        time.sleep(0.2)
    examples = page.evaluate("() => window.tinybert.examples()")
    stored_before = [e for e in examples
                     if datetime.fromisoformat(e["time"]).timestamp() * 1000 < restored]
    assert 20 <= len(stored_before) < 240
    assert [[e["text"], e["label"]] for e in examples] == expected    # each row once, in order
    # Page 2 ran the encoder once for each row page 1 had not stored, and for no other.
    assert page.evaluate(MISSES) == 240 - len(stored_before)
    assert page.is_hidden("#import-pending")
    assert page.text_content("#status").startswith("Added %d examples" % (240 -
                                                                          len(stored_before)))
