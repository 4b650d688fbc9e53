"""The tokenizer as the page runs it (transpiled, in its Web Worker, in Chromium) gives the
reference ids for the whole tokenizer corpus."""
import pytest

from tests.support.reference import load_manifest
from tests.support.tokenizer_reference import (
    has_special_literal,
    load_corpus,
    load_tokenizer_json,
    ref_ids,
    reference,
)

CHUNK = 2000
ENCODE_ALL = """async texts => {
  const out = [];
  for (const t of texts) out.push(await window.tinybert.tokenize(t));
  return out;
}"""


def truncated(ids, max_length, sep):
    return ids if len(ids) <= max_length else ids[:max_length - 1] + [sep]


def test_whole_corpus_matches_reference_in_chromium(app_page):
    corpus = load_corpus()
    max_length = load_manifest()["max_length"]
    expected = [truncated(ids, max_length, 102)
                for ids in ref_ids(reference(load_tokenizer_json()), corpus)]
    got = []
    for start in range(0, len(corpus), CHUNK):
        got.extend(app_page.evaluate(ENCODE_ALL, corpus[start:start + CHUNK]))
    bad = [i for i in range(len(corpus)) if got[i] != expected[i]]
    assert len(corpus) >= 10_000
    assert bad == [], [(corpus[i][:60], got[i][:10], expected[i][:10]) for i in bad[:5]]
    assert any(has_special_literal(t) for t in corpus)


def test_tokenizing_runs_in_a_module_worker(app_page):
    assert any("tokenizer_worker" in worker.url for worker in app_page.workers)


@pytest.mark.parametrize("bad", ["42", "null", "({a: 1})"])
def test_non_string_input_is_refused_clearly(app_page, bad):
    with pytest.raises(Exception, match="Expected a text"):
        app_page.evaluate(f"() => window.tinybert.tokenize({bad})")


def test_empty_string_gives_cls_sep_and_1_MB_truncates(app_page):
    assert app_page.evaluate("() => window.tinybert.tokenize('')") == [101, 102]
    ids = app_page.evaluate("() => window.tinybert.tokenize('word '.repeat(200000))")
    assert len(ids) == load_manifest()["max_length"] and ids[-1] == 102
