"""The page under its Content-Security-Policy (fl.static): the whole clicking workflow
(predict, teach, train, evaluate, batch and CSV download, Send Delta, Apply Aggregate) runs
with no ``securitypolicyviolation`` event and no console error; the page's answers carry the
policy, nosniff and no-referrer; a rate-limited request (429 with Retry-After) is waited out
and the page says why it waits."""
import pytest

from tests.support.browser import Server, wait_ready
from tests.support.page_js import TRAINING_SET, show_tab, status_after, teach_through_the_ui

# Installed before any of the page's scripts: every CSP violation the document sees.
LISTEN = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(
    {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile,
     line: e.lineNumber}));
"""


@pytest.fixture(scope="module")
def fl_server():
    server = Server(env={"MIN_UPDATES": "2", "FEDERATION_MODE": "plain"})
    yield server
    server.stop()


def watched_page(browser, url):
    """A fresh context's page that records CSP violations and console errors."""
    context = browser.new_context()
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    wait_ready(page)
    return page


def test_the_workflow_runs_under_the_policy_with_no_violation(browser, fl_server):
    page = watched_page(browser, fl_server.url + "/")
    answer = page.request.get(fl_server.url + "/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in policy and "unsafe-inline" not in policy
    assert "connect-src 'self'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert page.evaluate("() => window.tinybertError || null") is None

    page.fill("#text", "the nightly build broke after the merge")
    page.press("#text", "Enter")
    page.wait_for_function("() => document.querySelector('#label').textContent !== '—'")
    teach_through_the_ui(page, TRAINING_SET)
    message, _ = status_after(page, "#train")
    assert message.startswith("Trained 5 epochs"), message
    status_after(page, "#evaluate")
    show_tab(page, "batch")
    page.fill("#batch-input", "lunch?\nthe deploy failed")
    status_after(page, "#classify-batch")
    with page.expect_download():
        page.click("#download-csv")
    other = watched_page(browser, fl_server.url + "/")
    teach_through_the_ui(other, TRAINING_SET[::-1])
    for sender in (other, page):
        show_tab(sender, "federation")
        message, _ = status_after(sender, "#send-delta")
        assert "Sent a delta" in message, message
    message, _ = status_after(page, "#apply-aggregate")
    assert "federation's head v1" in message, message

    for each in (page, other):
        assert each.evaluate("() => window.__violations") == []
        assert each.errors == []
    other.context.close()
    page.context.close()


def test_a_rate_limited_request_is_waited_out_and_said(browser, fl_server):
    page = watched_page(browser, fl_server.url + "/")
    limited = []

    def once(route):
        if not limited:
            limited.append(route.request.url)
            route.fulfill(status=429, headers={"Retry-After": "2"}, content_type=
                          "application/json", body='{"error": "rate_limited", "detail": "x"}')
        else:
            route.continue_()

    page.route("**/api/register", once)
    teach_through_the_ui(page, TRAINING_SET)
    seen = []
    page.expose_function("__status", lambda text: seen.append(text))
    page.evaluate("""() => new MutationObserver(() => window.__status(
        document.querySelector('#status').textContent)).observe(
        document.querySelector('#status'), {childList: true, characterData: true,
                                            subtree: true})""")
    show_tab(page, "federation")
    page.click("#send-delta")
    page.wait_for_function("""() => { const s = document.querySelector('#status');
        return s.textContent.includes('Sent a delta') || s.className.includes('error'); }""",
                           timeout=60_000)
    assert "Sent a delta" in page.text_content("#status"), page.text_content("#status")
    assert limited and any("slow down" in text and "2 s" in text for text in seen), seen
    page.context.close()
