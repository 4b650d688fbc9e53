"""The browser's own dialogs, asked on the controller's behalf."""


def ask_text(question, default):
    """The text the user typed in answer to ``question`` (``default`` pre-filled), or None
    when they cancelled."""
    answer = window.prompt(question, default)
    return None if answer is None or typeof(answer) == "undefined" else answer


def confirm(question):
    """True when the user confirmed ``question``."""
    return window.confirm(question)
