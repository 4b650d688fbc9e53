"""The main thread's side of the tokenizer worker: ``encode(text)`` returns a promise of ids."""
from services.errors import AppError


def _start_worker():
    # The literal `new Worker(new URL(...), ...)` is what Vite recognises and bundles.
    return __pragma__(
        "js", "{}",
        "new Worker(new URL('./tokenizer_worker.js', import.meta.url), {type: 'module'})")


class TokenizerClient:
    """Tokenises in a module Web Worker, so a long text never blocks typing or painting."""

    def __init__(self):
        self.worker = _start_worker()
        self.pending = {}
        self.next_id = 0
        self.worker.onmessage = self._on_message
        self.worker.onerror = self._on_error

    def _on_message(self, event):
        reply = event.data
        key = str(reply["id"])
        waiter = self.pending[key]
        if not waiter:
            return None
        del self.pending[key]
        if reply["error"]:
            waiter["reject"](AppError(reply["error"]))
        else:
            waiter["resolve"](reply["ids"])
        return None

    def _on_error(self, event):
        message = ("The tokenizer worker failed: "
                   + (event.message if event.message else "unknown error"))
        for key in __pragma__("js", "{}", "Object.keys(self.pending)"):
            self.pending[key]["reject"](AppError(message))
        self.pending = {}
        return None

    def _request(self, message):
        self.next_id += 1
        message["id"] = self.next_id
        key = str(self.next_id)
        pending = self.pending

        def executor(resolve, reject):
            pending[key] = {"resolve": resolve, "reject": reject}

        promise = __new__(Promise(executor))
        try:
            self.worker.postMessage(message)
        except:  # noqa: E722 - a value that cannot be cloned throws a DataCloneError
            del pending[key]
            raise AppError("Expected a text to tokenise.")
        return promise

    def init(self, tokenizer_url, max_length):
        """Build the tokenizer in the worker from ``tokenizer_url`` (absolute; the worker
        fetches and parses it)."""
        return self._request({"op": "init", "url": tokenizer_url, "max_length": max_length})

    def encode(self, text):
        """Promise of the token ids of ``text``, [CLS] ... [SEP], truncated to max length."""
        return self._request({"op": "encode", "text": text})
