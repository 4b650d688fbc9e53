"""Numerical checks for the exported encoder: INT8-vs-fp32 agreement.

Embeddings follow the sentence-transformers recipe used by the page: each text
is tokenised alone (batch 1, no padding), the encoder's last hidden state is
mean-pooled over the attention mask and the result is L2-normalised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Varied English inputs for the INT8 self-check: very short and long, questions,
# code, e-mail, meetings, numbers, punctuation and casing.  Fixed so that the
# recorded cosine statistics are comparable from one build to the next.
SELF_CHECK_SENTENCES = [
    "Hi!",
    "ok",
    "Thanks, see you tomorrow.",
    "Can we move the weekly standup from 9:30 to 10:15 on Thursday?",
    "Who is taking notes at the design review this afternoon?",
    "The meeting has been cancelled; the agenda moves to next Monday's sync.",
    "Dear Ms. Patel, please find attached the signed contract and the invoice for March.",
    "Re: Fwd: quarterly budget -- can you confirm the numbers before Friday EOD?",
    "Your password will expire in 3 days. Click here to reset it (do NOT share this e-mail).",
    "Unsubscribe from this newsletter at any time using the link below.",
    "def add(a, b):\n    return a + b",
    "for (int i = 0; i < n; ++i) { sum += values[i]; }",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY name;",
    "TypeError: cannot read properties of undefined (reading 'length') at main.js:42",
    "git rebase -i HEAD~3 and then force-push the feature branch.",
    "How do I reverse a linked list in place without extra memory?",
    "What's the difference between a process and a thread?",
    "Revenue grew 12.5% year over year to $4.2M, beating the forecast by 0.3M.",
    "Call me at +1 (555) 013-2447 or 555-0199 after 6 p.m.",
    "Order #48213 shipped on 2024-03-17 and should arrive within 5-7 business days.",
    "Wow!!! That's... actually amazing?!",
    "THE SERVER IS DOWN AGAIN, PLEASE ESCALATE IMMEDIATELY.",
    "I'm not sure I agree, but let's try it your way first.",
    "The cat sat quietly on the warm windowsill, watching the rain fall on the garden.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Mix the flour and sugar, then fold in two beaten eggs and bake for 25 minutes at 180 C.",
    "The train to Edinburgh was delayed by forty minutes because of a signal failure near York.",
    "Our new onboarding guide covers laptop setup, VPN access, code review etiquette, "
    "on-call rotations and the expense policy; please read it before your first day.",
    "After three rounds of interviews, the hiring committee met on Tuesday to compare notes. "
    "Everyone agreed the second candidate had the strongest system-design answers, but two "
    "reviewers worried about her limited experience with distributed databases. The manager "
    "proposed a short paid trial project, and the recruiter promised to send an offer letter "
    "by the end of the week if the trial went well.",
    "Release notes v2.3.1: fixed a memory leak in the upload worker, improved retry back-off "
    "for HTTP 429 and 503 responses, added dark-mode support to the settings page, upgraded "
    "the logging library to 4.x, and deprecated the legacy /api/v1/export endpoint, which will "
    "be removed in version 3.0. Please update your integrations accordingly and report any "
    "regressions on the team channel.",
]


def open_session(path: Path, threads: int = 1):
    """Open an onnxruntime CPU session.

    Inputs: path of an ONNX model; threads, the intra-op thread count.
    Returns: an ``onnxruntime.InferenceSession``.
    Raises: onnxruntime errors if the model cannot be loaded.
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def load_tokenizer(path: Path):
    """Load a ``tokenizers.Tokenizer`` with the baked-in truncation and padding removed.

    Inputs: path of tokenizer.json.
    Returns: the tokenizer (each text is encoded at its natural length).
    Raises: OSError/ValueError if the file is missing or invalid.
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    tok.no_padding()
    return tok


def token_ids(tokenizer, text: str, max_length: int, sep_id: int) -> list[int]:
    """Tokenise one text, truncating to max_length while keeping [SEP] last.

    Inputs: tokenizer; text; max_length (tokens, specials included); sep_id.
    Returns: list of token ids, at most max_length long.
    """
    ids = tokenizer.encode(text).ids
    if len(ids) > max_length:
        ids = ids[: max_length - 1] + [sep_id]
    return ids


def embed(session, ids: list[int]) -> np.ndarray:
    """Embed one tokenised text: batch 1, mean pooling over the mask, L2 norm.

    Inputs: an encoder session; token ids of one text.
    Returns: float32 vector [hidden] of unit length.
    """
    input_ids = np.asarray([ids], dtype=np.int64)
    mask = np.ones_like(input_ids)
    feeds = {"input_ids": input_ids, "attention_mask": mask}
    # The WebGPU files take input_ids alone (texts are never padded: the mask is all ones).
    names = [i.name for i in session.get_inputs()]
    hidden = session.run(None, {name: feeds[name] for name in names})[0]
    pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
    vec = pooled[0].astype(np.float32)
    return vec / np.linalg.norm(vec)


def compare_models(reference: Path, candidate: Path, tokenizer, sentences, max_length: int,
                   sep_id: int) -> list[float]:
    """Cosine similarity between two encoders' sentence embeddings, sentence by sentence.

    Inputs: reference and candidate ONNX paths; tokenizer; sentences; max_length; sep_id.
    Returns: one cosine per sentence, in order.
    """
    ref, cand = open_session(reference), open_session(candidate)
    cosines = []
    for text in sentences:
        ids = token_ids(tokenizer, text, max_length, sep_id)
        cosines.append(float(np.dot(embed(ref, ids), embed(cand, ids))))
    return cosines
