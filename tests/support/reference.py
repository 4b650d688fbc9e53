"""Native reference for the browser encoder: the built model run by onnxruntime in Python.

Shared by the test-suite (including the browser tests) so that every comparison
uses the same tokenisation, truncation, pooling and normalisation.  Every text
is embedded alone (batch 1, no padding), exactly as the page does.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

# Ordinary English sentences reused across tests (all well under max_length).
FIXED_SENTENCES = [
    "The build fails after the last merge; can you look at the stack trace?",
    "Please review my pull request before lunch.",
    "I refactored the parser and added unit tests for the edge cases.",
    "The function returns None when the list is empty.",
    "Deploying version 2.4 to production tonight at 11 pm.",
    "Can we move the weekly sync to Thursday afternoon?",
    "The quarterly planning meeting is in room 3B at 10:00.",
    "Let's schedule a call with the design team next week.",
    "Agenda for tomorrow: budget review, hiring update, and open questions.",
    "Sorry, I will be ten minutes late to the standup.",
    "Thanks for your email, I will get back to you by Friday.",
    "Please find the signed contract attached to this message.",
    "Could you forward me the invoice from last month?",
    "Reminder: your subscription renews on the first of the month.",
    "I am out of the office until Monday with limited access to email.",
    "The weather is lovely today, let's have lunch in the park.",
    "My sister adopted a small grey cat from the shelter.",
    "How many people are coming to the party on Saturday?",
    "The train was delayed by twenty minutes because of the snow.",
    "This recipe needs two eggs, a cup of flour and some butter.",
]


def model_dir() -> Path:
    """Folder of the built browser model (``public/model`` at the repository root)."""
    return REPO / "public" / "model"


def load_manifest() -> dict:
    """Parsed ``manifest.json`` of the built model.

    Raises: FileNotFoundError (mentioning ``make model``) if the model is not built.
    """
    path = model_dir() / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path.relative_to(REPO)} not found: run `make model` first")
    return json.loads(path.read_text(encoding="utf-8"))


def hf_tokenizer():
    """``tokenizers.Tokenizer`` from the shipped tokenizer.json, at natural length.

    The packaged file has truncation and padding to 128 baked in; both are turned
    off here, so ``encode(text).ids`` is the full ``[CLS] ... [SEP]`` sequence.
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


@functools.lru_cache(maxsize=4)
def native_session(file: str | None = None):
    """Cached onnxruntime CPU session (1 intra-op thread) on the shipped INT8 encoder, or on
    another file of the model folder (``file``, e.g. a WebGPU encoder)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    path = model_dir() / (file or load_manifest()["encoder_file"])
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def truncate(ids: list[int], max_length: int, sep_id: int) -> list[int]:
    """Cut ids to max_length tokens, keeping [SEP] as the last one."""
    return ids if len(ids) <= max_length else ids[: max_length - 1] + [sep_id]


def embed_ids(session, ids: list[int]) -> np.ndarray:
    """One sequence through an encoder session: mean over the mask, then L2 norm.

    Returns: float32 vector [hidden].
    """
    input_ids = np.asarray([ids], dtype=np.int64)
    mask = np.ones_like(input_ids)
    feeds = {"input_ids": input_ids, "attention_mask": mask}
    # The WebGPU files take input_ids alone: texts are never padded, the mask is all ones.
    hidden = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]
    pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum()
    vec = pooled[0].astype(np.float32)
    return vec / np.linalg.norm(vec)


def native_embed(texts, max_length: int | None = None, session=None) -> np.ndarray:
    """Sentence embeddings computed natively, each text run alone (batch 1).

    Inputs: texts; max_length (defaults to the manifest's); session (defaults to
        native_session(), the shipped INT8 encoder).
    Returns: float32 array [len(texts), hidden], rows of unit length.
    """
    max_length = max_length or load_manifest()["max_length"]
    tok = hf_tokenizer()
    special = json.loads((model_dir() / "special_tokens_map.json").read_text(encoding="utf-8"))
    sep_id = tok.token_to_id(special["sep_token"])
    session = session or native_session()
    rows = [embed_ids(session, truncate(tok.encode(t).ids, max_length, sep_id)) for t in texts]
    return np.stack(rows).astype(np.float32)


def cosine(a, b) -> float:
    """Cosine similarity of two vectors."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
