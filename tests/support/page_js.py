"""Small helpers shared by the browser tests that train and save in the page."""

# Clearly separable examples of the default labels (short texts people write at work).
TRAINING_SET = [
    ("fix the null pointer exception in the parser", "Dev"),
    ("the CI build is failing on the main branch", "Dev"),
    ("refactor the database migration script", "Dev"),
    ("standup moved to 10am tomorrow", "Meeting"),
    ("let's schedule a call with the client on Friday", "Meeting"),
    ("the weekly sync is cancelled this week", "Meeting"),
    ("please reply to the email about the invoice", "Email"),
    ("I forwarded the newsletter to your inbox", "Email"),
    ("check your mailbox for the message from HR", "Email"),
]
HELD_OUT = [
    ("merge conflict in the release branch after the last commit", "Dev"),
    ("book a meeting room for the design review at 3pm", "Meeting"),
    ("did you get my email with the attachment?", "Email"),
]

ADD_ALL = """async pairs => {
  for (const [t, l] of pairs) await window.tinybert.addExample(t, l);
  return (await window.tinybert.examples()).length;
}"""
EMBED_ALL = """async texts => {
  const out = [];
  for (const t of texts) out.push(Array.from(await window.tinybert.embed(t)));
  return out;
}"""
PREDICT_ALL = """async texts => {
  const out = [];
  for (const t of texts) out.push(await window.tinybert.predict(t));
  return out;
}"""


def train_default(page, epochs=5):
    """Add TRAINING_SET through the API and train; returns the per-epoch history."""
    page.evaluate(ADD_ALL, TRAINING_SET)
    return page.evaluate("e => window.tinybert.train({epochs: e})", epochs)


def predict_all(page, texts):
    return page.evaluate(PREDICT_ALL, list(texts))


# The page's head as one flat list: its head file (safetensors: 8-byte header length, JSON
# header, then the tensors) read past the header; bias then weights, float32.
HEAD_TENSORS = """async () => {
  const b = await window.tinybert.exportHead();
  const n = new DataView(b.buffer).getUint32(0, true);
  return Array.from(new Float32Array(b.slice(8 + n).buffer));
}"""


def status_after(page, click_selector):
    """Click, then wait until the status line changes; returns its text and kind."""
    before = page.get_attribute("#status", "data-seq")
    page.click(click_selector)
    page.wait_for_function("b => document.querySelector('#status').dataset.seq !== b", arg=before)
    return page.text_content("#status"), page.get_attribute("#status", "class")


def teach_through_the_ui(page, examples):
    """Add each ``(text, label)`` as an example by typing and clicking, as a user does."""
    for text, label in examples:
        page.fill("#text", text)
        page.select_option("#feedback-label", label)
        status_after(page, "#add-example")


def show_tab(page, name):
    """Open a tab of the tools panel ("models", "federation" or "batch"): its controls are
    hidden, so not clickable, while another tab is shown."""
    page.click(f"#tab-{name}")
    page.wait_for_selector(f"#panel-{name}", state="visible")
