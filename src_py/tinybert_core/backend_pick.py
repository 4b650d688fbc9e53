"""Choosing the encoder's backend from measured times: pure, the same in CPython and the page.

The page (services/backend_choice) times the WASM and WebGPU probe files; these functions pick
the file for a backend, make the probe's token ids and turn the timings into a choice.
"""


def encoder_entry(encoders, backend, features):
    """The first of the manifest's ``encoders`` for ``backend`` whose ``requires`` are all in
    ``features`` (adapter feature names), or None."""
    for entry in encoders:
        if entry["backend"] != backend:
            continue
        missing = [f for f in entry["requires"] if f not in features]
        if len(missing) == 0:
            return entry
    return None


def probe_ids(vocab, length):
    """Token ids of a probe text of ``length`` tokens: [CLS], ids below ``vocab``, [SEP]."""
    ids = [101]
    for i in range(length - 2):
        ids.append(vocab - 1 - (i * 7) % 500)
    ids.append(102)
    return ids


def median(values):
    """The middle value (the upper one of the two middle values for an even count)."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def per_text_ms(runs_per_length, expected_runs):
    """Milliseconds per text: the median at each probe length, averaged over the lengths; None
    when a length has fewer than ``expected_runs`` runs (the backend ran out of time)."""
    if len(runs_per_length) == 0:
        return None
    total = 0
    for runs in runs_per_length:
        if len(runs) < expected_runs:
            return None
        total += median(runs)
    return total / len(runs_per_length)


def pick(measured):
    """"webgpu" when it finished and beat WASM (or WASM did not finish), else "wasm".

    measured: ``{"wasm": ms or None, "webgpu": ms or None}``."""
    gpu, cpu = measured["webgpu"], measured["wasm"]
    if gpu is not None and (cpu is None or gpu < cpu):
        return "webgpu"
    return "wasm"
