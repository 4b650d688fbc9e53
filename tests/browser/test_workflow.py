"""The seed's usage section, done as a person does it — by clicking and typing in Chromium —
with screenshots of the main states written to tests/artifacts/ for review."""
import csv
import io
from pathlib import Path

import pytest

from tests.support.browser import Server, open_page, wait_ready
from tests.support.page_js import TRAINING_SET, show_tab, status_after, teach_through_the_ui

SHOTS = Path(__file__).parents[1] / "artifacts"
BATCH = ["the deploy script crashed with a segfault", "quarterly review meeting moved to Monday",
         "hello, sorry for the late reply to your email", "lunch?",
         "please join the call about the failing unit tests"]


def shot(page, name):
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def fl_server():
    server = Server(env={"MIN_UPDATES": "2", "FEDERATION_MODE": "plain"})
    yield server
    server.stop()


def test_the_whole_workflow_by_clicking(browser, fl_server):
    page = open_page(browser, fl_server.url + "/")
    page.set_viewport_size({"width": 1000, "height": 900})
    shot(page, "01-ready")

    # Enter text → Enter predicts → label and confidences.
    page.fill("#text", "the nightly build broke after the merge")
    page.press("#text", "Enter")
    page.wait_for_function("() => document.querySelector('#label').textContent !== '—'")
    assert page.locator("#scores li").count() == 3
    assert page.text_content("#latency").endswith(" ms")
    shot(page, "02-predicted")

    # Correct it and train: number key 1 picks the first label (Dev), then Train on Feedback.
    teach_through_the_ui(page, TRAINING_SET)
    page.fill("#text", "the nightly build broke after the merge")
    page.click("h1")   # focus outside the fields, so number keys choose a label
    page.keyboard.press("3")
    assert page.input_value("#feedback-label") == "Email"
    page.keyboard.press("1")
    assert page.input_value("#feedback-label") == "Dev"
    message, kind = status_after(page, "#train")
    assert message.startswith("Trained 5 epochs on 10 examples"), message
    assert page.text_content("#label") == "Dev"
    assert page.locator("#train-chart polyline").count() == 2
    assert page.locator("#epoch-log tbody tr").count() == 5
    assert "Dev: 4, Meeting: 3, Email: 3" in page.text_content("#example-counts")
    status_after(page, "#evaluate")
    assert "Cross-validated accuracy" in page.text_content("#cv-accuracy")
    assert page.locator("#confusion tr").count() == 4
    shot(page, "03-trained")

    # Save Model, reload, Load Model.
    page.fill("#model-name", "team-inbox")
    message, _ = status_after(page, "#save")
    assert message == "Saved team-inbox v1."
    assert "team-inbox v1" in page.locator("#model-list option").first.text_content()
    shot(page, "04-saved")
    before = page.evaluate("() => window.tinybert.predict('standup moved to 11')")
    page.reload()
    wait_ready(page)
    page.select_option("#model-list", "team-inbox")
    message, _ = status_after(page, "#load")
    assert message == "Loaded team-inbox."
    assert page.evaluate("() => window.tinybert.predict('standup moved to 11')") == before
    assert "Dev: 4" in page.text_content("#example-counts")
    shot(page, "05-loaded")

    # Batch mode with CSV download, and active learning.
    show_tab(page, "batch")
    page.fill("#batch-input", "\n".join(BATCH))
    status_after(page, "#classify-batch")
    assert page.locator("#batch-results tr").count() == len(BATCH) + 1
    with page.expect_download() as download:
        page.click("#download-csv")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(), newline="")))
    assert rows[0] == ["text", "label", "confidence"] and [r[0] for r in rows[1:]] == BATCH
    status_after(page, "#suggest")
    suggested = page.locator("#suggestions li > span:first-child").all_text_contents()
    predictions = page.evaluate(
        "async ts => { const o = []; for (const t of ts) o.push(await window.tinybert.predict(t));"
        " return o; }", BATCH)
    margins = []
    for p in predictions:
        top = sorted(p["scores"].values(), reverse=True)
        margins.append(top[0] - top[1])
    expected = [BATCH[i] for i in sorted(range(len(BATCH)), key=lambda i: margins[i])]
    assert [s.strip() for s in suggested] == expected
    page.locator("#suggestions button").first.click()
    page.wait_for_function("t => document.querySelector('#text').value === t", arg=expected[0])
    shot(page, "06-batch-and-suggestions")

    # Send Delta from this page and a second browser; Apply Aggregate.
    other = open_page(browser, fl_server.url + "/")
    teach_through_the_ui(other, TRAINING_SET[::-1])
    show_tab(other, "federation")
    message, kind = status_after(other, "#send-delta")
    assert "Sent a delta" in message, message
    show_tab(page, "federation")
    message, kind = status_after(page, "#send-delta")
    assert "Sent a delta" in message, message
    assert "The round closed" in page.text_content("#fl-sent")
    message, kind = status_after(page, "#apply-aggregate")
    assert message == "Now using the federation's head v1.", message
    assert "global head v1" in page.text_content("#fl-status")
    shot(page, "07-federated")
    other.context.close()

    # A plain error, and the page at 360 px wide.
    page.fill("#text", "")
    message, kind = status_after(page, "#predict")
    assert "error" in kind and "Type a text first" in message
    shot(page, "08-error")
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    shot(page, "09-narrow-360px")
    page.context.close()


def test_rename_and_delete_ask_through_the_browser_dialogs(page):
    """Rename asks for the new name (a prompt), Delete asks to confirm; cancelling either
    changes nothing."""
    asked = []

    def answer(reply):
        def handle(dialog):
            asked.append((dialog.type, dialog.message, dialog.default_value))
            if reply is None:
                dialog.dismiss()
            else:
                dialog.accept(reply)
        return handle

    page.once("dialog", answer(None))
    page.click("button[aria-label='Rename Dev']")
    assert page.evaluate("() => window.tinybert.labels()") == ["Dev", "Meeting", "Email"]
    page.once("dialog", answer("Development"))
    message, kind = status_after(page, "button[aria-label='Rename Dev']")
    assert "ready" in kind and message.startswith("Label renamed"), message
    assert page.evaluate("() => window.tinybert.labels()") == ["Development", "Meeting", "Email"]
    assert page.locator("#feedback-label option").first.text_content() == "1 · Development"
    assert asked[0] == ("prompt", "New name for the label Dev:", "Dev")

    page.fill("#model-name", "kept")
    status_after(page, "#save")
    page.once("dialog", answer(None))
    page.click("#delete-model")
    assert [m["name"] for m in page.evaluate("() => window.tinybert.listModels()")] == ["kept"]
    page.once("dialog", answer(""))
    message, _ = status_after(page, "#delete-model")
    assert message == "Deleted kept."
    assert page.evaluate("() => window.tinybert.listModels()") == []
    assert asked[2][:2] == ("confirm", "Delete every version of the saved model kept?")


def test_controls_have_labels_and_stable_ids(app_page):
    for element_id in ["text", "predict", "label", "scores", "feedback-label", "train", "save",
                       "load", "send-delta", "apply-aggregate", "status"]:
        assert app_page.locator(f"#{element_id}").count() == 1, element_id
    unlabelled = app_page.evaluate("""() => [...document.querySelectorAll(
        'input, select, textarea')].filter(e => !e.labels || e.labels.length === 0)
        .map(e => e.id)""")
    assert unlabelled == []
