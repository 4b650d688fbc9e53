"""Training in the page from the user's corrections, the label editor, and bad input."""
import math

import pytest

from tests.support.page_js import (
    HEAD_TENSORS,
    HELD_OUT,
    PREDICT_ALL,
    TRAINING_SET,
    predict_all,
    status_after,
    train_default,
)


def test_examples_added_through_the_ui_train_the_head(page):
    for text, label in TRAINING_SET[:-1]:
        page.fill("#text", text)
        page.select_option("#feedback-label", label)
        status_after(page, "#add-example")
    text, label = TRAINING_SET[-1]
    page.fill("#text", text)
    page.select_option("#feedback-label", label)
    page.fill("#epochs", "5")
    message, kind = status_after(page, "#train")
    assert "ready" in kind, message
    assert message.startswith("Trained 5 epochs on 9 examples")
    assert page.locator("#epoch-log tbody tr").count() == 5
    assert page.evaluate("() => document.querySelector('#train-progress').value") == 5
    assert page.text_content("#label") == label  # the current text's prediction updated at once
    assert "Dev: 3, Meeting: 3, Email: 3" in page.text_content("#example-counts")
    results = predict_all(page, [t for t, _ in HELD_OUT])
    assert [r["label"] for r in results] == [label for _, label in HELD_OUT]


def test_training_history_reports_loss_and_accuracy(page):
    history = train_default(page)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    assert history[-1]["accuracy"] == 1.0
    assert history[-1]["loss"] < history[0]["loss"]


def test_removing_and_renaming_labels_keep_the_other_predictions(page):
    train_default(page)
    texts = [t for t, _ in TRAINING_SET + HELD_OUT]
    before = predict_all(page, texts)
    assert page.evaluate("() => window.tinybert.renameLabel('Meeting', 'Sync')") == [
        "Dev", "Sync", "Email"]
    renamed = predict_all(page, texts)
    assert [r["label"] for r in renamed] == [
        "Sync" if r["label"] == "Meeting" else r["label"] for r in before]
    assert [r["scores"]["Sync"] for r in renamed] == [r["scores"]["Meeting"] for r in before]
    assert page.evaluate("() => window.tinybert.setLabels(['Dev', 'Sync'])") == ["Dev", "Sync"]
    after = predict_all(page, texts)
    for old, new in zip(before, after):
        if old["label"] != "Email":
            assert new["label"] == {"Meeting": "Sync"}.get(old["label"], old["label"])
    counts = page.evaluate("() => window.tinybert.counts()")
    assert counts == {"per_label": {"Dev": 3, "Sync": 3}, "set_aside": 3}
    examples = page.evaluate("() => window.tinybert.examples()")
    assert sum(1 for e in examples if not e["active"]) == 3  # Email examples kept aside
    page.evaluate("() => window.tinybert.setLabels(['Dev', 'Sync', 'Email'])")
    assert page.evaluate("() => window.tinybert.counts()")["set_aside"] == 0


def test_adding_a_label_keeps_predictions_until_retrained(page):
    train_default(page)
    texts = [t for t, _ in HELD_OUT]
    before = [r["label"] for r in predict_all(page, texts)]
    page.fill("#new-label", "Invoice")
    status_after(page, "#add-label")
    assert page.evaluate("() => window.tinybert.labels()") == ["Dev", "Meeting", "Email", "Invoice"]
    assert [r["label"] for r in predict_all(page, texts)] == before
    options = page.locator("#feedback-label option")
    assert [options.nth(i).get_attribute("value") for i in range(4)] == [
        "Dev", "Meeting", "Email", "Invoice"]
    assert options.all_text_contents() == ["1 · Dev", "2 · Meeting", "3 · Email", "4 · Invoice"]


def test_training_without_examples_or_with_one_label_says_so(page):
    page.fill("#text", "")
    message, kind = status_after(page, "#train")
    assert "error" in kind and "Type a text first" in message
    with pytest.raises(Exception, match="no examples to train on"):
        page.evaluate("() => window.tinybert.train({epochs: 5})")
    page.evaluate("() => window.tinybert.addExample('fix the build', 'Dev')")
    with pytest.raises(Exception, match="at least two labels"):
        page.evaluate("() => window.tinybert.train({epochs: 5})")


def test_a_label_outside_the_label_set_is_refused(page):
    with pytest.raises(Exception, match="'Spam' is not one of the labels"):
        page.evaluate("() => window.tinybert.addExample('win a prize', 'Spam')")
    assert page.evaluate("() => window.tinybert.examples()") == []


def test_nan_never_enters_the_weights(page):
    page.evaluate(
        "async pairs => { for (const [t, l] of pairs) await window.tinybert.addExample(t, l); }",
        TRAINING_SET)
    with pytest.raises(Exception, match="learning_rate"):
        page.evaluate("() => window.tinybert.train({epochs: 5, learning_rate: NaN})")
    page.evaluate("() => window.tinybert.train({epochs: 20, learning_rate: 9.9})")
    weights = page.evaluate(HEAD_TENSORS)
    assert len(weights) == 3 + 3 * 384
    assert all(math.isfinite(w) for w in weights)
    scores = page.evaluate(PREDICT_ALL, ["anything at all"])[0]["scores"]
    assert all(math.isfinite(p) for p in scores.values())
