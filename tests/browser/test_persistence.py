"""Heads and examples survive reloads, browser restarts and bad days (Chromium, real IndexedDB)."""
import json
import shutil
import tempfile

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, wait_ready
from tests.support.page_js import HELD_OUT, TRAINING_SET, predict_all, train_default

TEXTS = [t for t, _ in TRAINING_SET + HELD_OUT]


def reload(page):
    page.reload()
    wait_ready(page)
    assert page.evaluate("() => window.tinybertError || null") is None


def test_reload_keeps_examples_saved_heads_and_predictions(page):
    train_default(page)
    page.evaluate("() => window.tinybert.save('work')")
    before = predict_all(page, TEXTS)
    examples = page.evaluate("() => window.tinybert.examples()")
    reload(page)
    assert page.evaluate("() => window.tinybert.examples()") == examples
    assert [m["name"] for m in page.evaluate("() => window.tinybert.listModels()")] == ["work"]
    assert predict_all(page, TEXTS) == before


def test_browser_restart_with_the_same_profile_keeps_everything(browser, server):
    profile = tempfile.mkdtemp(prefix="tinybert-profile-")
    try:
        playwright_chromium = browser.browser_type
        context = playwright_chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = context.new_page()
        page.goto(server.url + "/")
        wait_ready(page)
        train_default(page)
        page.evaluate("() => window.tinybert.save('restart')")
        before = predict_all(page, TEXTS)
        context.close()
        context = playwright_chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = context.new_page()
        page.goto(server.url + "/")
        wait_ready(page)
        assert len(page.evaluate("() => window.tinybert.examples()")) == len(TRAINING_SET)
        assert page.evaluate("() => window.tinybert.listModels()")[0]["name"] == "restart"
        assert predict_all(page, TEXTS) == before
        assert page.evaluate("() => window.tinybert.stats()")["timings"]["model_source"] == "cache"
        context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def test_versions_load_and_delete(page):
    train_default(page)
    first = page.evaluate("() => window.tinybert.save('v')")
    scores_v1 = predict_all(page, TEXTS)
    page.evaluate("() => window.tinybert.setLabels(['Dev', 'Meeting'])")
    page.evaluate("() => window.tinybert.train({epochs: 3})")
    second = page.evaluate("() => window.tinybert.save('v')")
    assert (first["version"], second["version"]) == (1, 2)
    [listed] = page.evaluate("() => window.tinybert.listModels()")
    assert (listed["version"], listed["versions"]) == (2, 2)
    assert listed["labels"] == ["Dev", "Meeting"]
    page.evaluate("() => window.tinybert.load('v', 1)")
    assert page.evaluate("() => window.tinybert.labels()") == ["Dev", "Meeting", "Email"]
    assert predict_all(page, TEXTS) == scores_v1
    # The UI lists it with date, labels and accuracy, and loads the newest version.
    option = page.locator("#model-list option").first.text_content()
    assert option.startswith("v v2") and "Dev, Meeting" in option and "train acc" in option
    page.click("#load")
    page.wait_for_function(
        "() => document.querySelector('#status').textContent.startsWith('Loaded v')")
    assert page.evaluate("() => window.tinybert.labels()") == ["Dev", "Meeting"]
    assert page.evaluate("() => window.tinybert.deleteModel('v')") == 2
    assert page.evaluate("() => window.tinybert.listModels()") == []


def test_exported_head_reproduces_the_page_probabilities_in_python(page, tmp_path):
    train_default(page)
    data = bytes(page.evaluate("async () => Array.from(await window.tinybert.exportHead())"))
    assert len(data) <= 10_000
    path = tmp_path / "head.safetensors"
    path.write_bytes(data)
    tensors = load(data)
    with safe_open(str(path), framework="numpy") as f:
        labels = json.loads(f.metadata()["labels"])
    embeddings = np.array(page.evaluate(
        "async texts => { const out = []; for (const t of texts)"
        " out.push(Array.from(await window.tinybert.embed(t))); return out; }", TEXTS))
    logits = embeddings @ tensors["weight"].astype(np.float64).T + tensors["bias"]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    page_scores = predict_all(page, TEXTS)
    for row, result in zip(probs, page_scores):
        assert labels[int(np.argmax(row))] == result["label"]
        assert np.allclose(row, [result["scores"][label] for label in labels], atol=1e-9)


def test_import_round_trip_and_malformed_files_are_refused(page):
    train_default(page)
    exported = page.evaluate("async () => Array.from(await window.tinybert.exportHead())")
    before = predict_all(page, TEXTS)
    for garbage, message in [([1, 2, 3], "only 3 bytes"),
                             (exported[:-40], "truncated"),
                             ([0] * 8 + list(b'{"a": 1}'), "not a head")]:
        with pytest.raises(Exception, match=message):
            page.evaluate("b => window.tinybert.importHead(new Uint8Array(b))", garbage)
    assert predict_all(page, TEXTS) == before  # nothing changed
    page.evaluate("() => window.tinybert.setLabels(['Only'])")
    page.evaluate("b => window.tinybert.importHead(new Uint8Array(b))", exported)
    assert page.evaluate("() => window.tinybert.labels()") == ["Dev", "Meeting", "Email"]
    assert predict_all(page, TEXTS) == before
    # The file input in the page refuses a malformed file with a message, too.
    page.set_input_files("#import-file", files=[{"name": "bad.safetensors",
                                                 "mimeType": "application/octet-stream",
                                                 "buffer": b"not a head file at all"}])
    page.wait_for_function("() => document.querySelector('#status').classList.contains('error')")
    assert "Import refused" in page.text_content("#status")


def test_head_for_another_encoder_is_refused(page):
    train_default(page)
    exported = page.evaluate("async () => Array.from(await window.tinybert.exportHead())")
    data = bytes(exported)
    size = int.from_bytes(data[:8], "little")
    header = data[8:8 + size].replace(b'"hidden_size":"384"', b'"hidden_size":"768"')
    forged = data[:8] + header + data[8 + size:]
    with pytest.raises(Exception, match="hidden size 768"):
        page.evaluate("b => window.tinybert.importHead(new Uint8Array(b))", list(forged))


RANDOM_EXAMPLE = """n => window.tinybert.addExample(n + ' ' + Array.from(
  crypto.getRandomValues(new Uint32Array(16000)), v => v.toString(36)).join(' '), 'Dev')"""


def test_full_storage_is_reported_and_loses_nothing(browser, server):
    # A real quota: Chromium's per-origin quota is set to what the model cache and a few MB
    # of data need, then the page writes until the browser refuses.
    context = browser.new_context()
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": server.url, "quotaSize": 26_000_000})
    page.goto(server.url + "/")
    wait_ready(page)
    train_default(page)
    page.evaluate("() => window.tinybert.save('kept')")
    added = 0
    with pytest.raises(Exception, match="storage for the page is full") as refused:
        for i in range(80):   # ~110 kB of random words each (storage compresses repeats)
            page.evaluate(RANDOM_EXAMPLE, i)
            added += 1
    assert "nothing already stored was changed" in str(refused.value)
    examples = page.evaluate("() => window.tinybert.examples()")
    assert len(examples) == len(TRAINING_SET) + added
    # The same refusal through the page's own button.
    page.evaluate("""() => { document.querySelector('#text').value = Array.from(
      crypto.getRandomValues(new Uint32Array(16000)), v => v.toString(36)).join(' '); }""")
    page.click("#add-example")
    page.wait_for_function("() => document.querySelector('#status').classList.contains('error')")
    assert "storage for the page is full" in page.text_content("#status")
    cdp.send("Storage.overrideQuotaForOrigin", {"origin": server.url})
    reload(page)
    assert page.evaluate("() => window.tinybert.examples()") == examples
    assert [m["name"] for m in page.evaluate("() => window.tinybert.listModels()")] == ["kept"]
    context.close()


def test_corrupted_and_foreign_records_are_refused_and_left_alone(page):
    train_default(page)
    page.evaluate("() => window.tinybert.save('good')")
    page.evaluate("""async () => {
      const open = indexedDB.open('tinybert');
      const db = await new Promise((ok, err) => { open.onsuccess = () => ok(open.result);
                                                  open.onerror = () => err(open.error); });
      const tx = db.transaction('heads', 'readwrite');
      tx.objectStore('heads').put({name: 'broken', version: 1, labels: ['a', 'b'],
                                   weights: new Float32Array(5), bias: new Float32Array(2),
                                   encoder: {id: 'sentence-transformers/all-MiniLM-L6-v2',
                                             hidden_size: 384}, created: 'x'});
      tx.objectStore('heads').put({name: 'foreign', version: 1, labels: ['a', 'b'],
                                   weights: new Float32Array(2 * 768), bias: new Float32Array(2),
                                   encoder: {id: 'bert-base-uncased', hidden_size: 768},
                                   created: 'x'});
      await new Promise(ok => { tx.oncomplete = ok; });
      db.close();
    }""")
    names = [m["name"] for m in page.evaluate("() => window.tinybert.listModels()")]
    assert names == ["broken", "foreign", "good"]
    before = predict_all(page, TEXTS)
    with pytest.raises(Exception, match="'broken' is damaged"):
        page.evaluate("() => window.tinybert.load('broken')")
    with pytest.raises(Exception, match="trained for another encoder \\(bert-base-uncased\\)"):
        page.evaluate("() => window.tinybert.load('foreign')")
    assert predict_all(page, TEXTS) == before
    assert [m["name"] for m in page.evaluate("() => window.tinybert.listModels()")] == names
    page.evaluate("() => window.tinybert.load('good')")


OLD_SCHEMA = """async () => {
  // What version 1 of the page created: the stores, without the by_label index.
  const open = indexedDB.open('tinybert', 1);
  open.onupgradeneeded = () => {
    const db = open.result;
    const ex = db.createObjectStore('examples', {keyPath: 'id', autoIncrement: true});
    const heads = db.createObjectStore('heads', {keyPath: ['name', 'version']});
    heads.createIndex('by_name', 'name');
    db.createObjectStore('settings', {keyPath: 'key'});
    ex.add({text: 'kept from version 1', label: 'Dev', embedding: null, encoder: 'old',
            time: '2026-01-01T00:00:00Z'});
  };
  const db = await new Promise(ok => { open.onsuccess = () => ok(open.result); });
  window.oldDb = db;   // stays open, like a tab still running the old page
  return db.version;
}"""


def test_upgrade_blocked_by_another_tab_says_so_then_migrates(browser, server):
    context = browser.new_context()
    old_tab = context.new_page()
    old_tab.goto(server.url + "/api/health")
    assert old_tab.evaluate(OLD_SCHEMA) == 1
    new_tab = context.new_page()
    new_tab.goto(server.url + "/")
    new_tab.wait_for_function(
        "() => document.querySelector('#status').textContent.includes('Another tab')",
        timeout=120_000)
    assert new_tab.evaluate("() => window.tinybert === undefined")
    old_tab.evaluate("() => window.oldDb.close()")
    wait_ready(new_tab)
    [example] = new_tab.evaluate("() => window.tinybert.examples()")
    assert example["text"] == "kept from version 1"
    # The migrated example (made by another encoder) is embedded again when training.
    new_tab.evaluate("() => window.tinybert.addExample('team meeting at noon', 'Meeting')")
    history = new_tab.evaluate("() => window.tinybert.train({epochs: 2})")
    assert len(history) == 2
    context.close()
