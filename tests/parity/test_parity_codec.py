"""The wire codec gives the same bytes, values and errors in CPython and transpiled in Node."""
import numpy as np
import pytest

from tests.support.parity import import_py, ref, run_js_many, run_py_many

MODULE = "tinybert_core.codec"
RNG = np.random.default_rng(11)
BOUNDS = [1e300, 1.0, 1e-3]


def _deltas():
    """(rows, cols, weights, bias) covering zeros, tiny, subnormal, huge, negative, halves."""
    out = []
    for scale in (1e-30, 1e-6, 1e-3, 0.1, 1.0, 30.0, 1e6, 1e30, 1e36):
        for rows, cols in ((3, 16), (1, 1), (5, 7)):
            w = RNG.normal(scale=scale, size=rows * cols)
            b = RNG.normal(scale=scale, size=rows)
            out.append((rows, cols, w.tolist(), b.tolist()))
    out.append((3, 16, [0.0] * 48, [0.0] * 3))
    out.append((3, 16, [-0.0] * 48, [5e-324, -5e-324, 0.0]))
    out.append((2, 4, [1e-310, -2e-310, 3e-320, 0.0, 1.0, -1.0, 0.5, -0.25], [127.0, -63.5]))
    # Codes that land exactly on .5 after division: rounding must agree (half away from zero).
    out.append((1, 8, [127.0, 0.5, -0.5, 1.5, -2.5, 62.5, -126.5, 3.5], [2.5, ]))
    out.append((1, 4, [-3.4e38 * 127, 1.0, 2.0, -2.0], [0.0]))   # largest scale
    out.append((1, 4, [-1e300, 1.0, 2.0, -2.0], [0.0]))   # too large for float32
    out.append((3, 384, RNG.normal(scale=0.05, size=3 * 384).tolist(),
                RNG.normal(scale=0.05, size=3).tolist()))
    for _ in range(40):
        rows, cols = int(RNG.integers(1, 6)), int(RNG.integers(1, 40))
        exponent = RNG.uniform(-40, 37, size=rows * cols + rows)
        values = (RNG.choice([-1.0, 1.0], size=rows * cols + rows) * 10.0 ** exponent)
        values[RNG.random(size=values.size) < 0.2] = 0.0
        out.append((rows, cols, values[:rows * cols].tolist(), values[rows * cols:].tolist()))
    return out


def _update_args(i, rows, cols, w, b):
    return [i * 7 + 1, 4_000_000_000 - i, i, 1 + i * 1000, rows, cols, w, b]


def _as_floats(results):
    """Node's JSON writes a large whole float as an integer; read every list back as floats."""
    return [{k: [float(x) for x in v] if isinstance(v, list) else v for k, v in r.items()}
            for r in results]


def both(target, cases, setup=None):
    return run_py_many(MODULE, target, cases, setup), run_js_many(MODULE, target, cases, setup)


def _py_fails(calls, build):
    """Indices of the calls that raise in CPython (bytes are not JSON, so only errors can be
    compared directly; the bytes are compared through ``hex_of``)."""
    codec = import_py(MODULE)
    failed = []
    for k, call in enumerate(calls):
        try:
            build(codec, *call)
        except codec.CodecError:
            failed.append(k)
    return failed


def test_encoded_updates_are_byte_identical():
    deltas = _deltas()
    setup = [("u%d" % i, "Update", _update_args(i, *d)) for i, d in enumerate(deltas)]
    calls = [(i, bound) for i in range(len(deltas)) for bound in BOUNDS]
    failed = _py_fails(calls, lambda c, i, bound: c.encode_update(
        c.Update(*_update_args(i, *deltas[i])), bound))
    assert len(failed) == len(BOUNDS)   # only the delta too large for float32 fails
    py_err, js_err = both("encode_update", [[ref("u%d" % calls[k][0]), calls[k][1]]
                                            for k in failed], setup)
    assert py_err == js_err
    assert {e["__error__"]["message"] for e in js_err} == {
        "a delta value is too large for a float32 scale"}

    encoded = [k for k in range(len(calls)) if k not in failed]
    setup = setup + [("b%d" % k, "encode_update", [ref("u%d" % calls[k][0]), calls[k][1]])
                     for k in encoded]
    py_hex, js_hex = both("hex_of", [[ref("b%d" % k)] for k in encoded], setup)
    assert py_hex == js_hex

    # Decoding those bytes gives the same dequantised floats, bit for bit.
    setup = [("d%d" % k, "bytes_of_hex", [h]) for k, h in enumerate(py_hex)]
    setup += [("m%d" % k, "decode_update", [ref("d%d" % k)]) for k in range(len(py_hex))]
    py_dec, js_dec = both("as_dict", [[ref("m%d" % k)] for k in range(len(py_hex))], setup)
    assert _as_floats(py_dec) == _as_floats(js_dec)


def test_heads_are_byte_identical():
    setup, names = [], []
    for i, (rows, cols, w, b) in enumerate(_deltas()):
        if max(abs(v) for v in w + b) > 3.4e38:
            continue
        setup.append(("h%d" % i, "Head", [i, rows, cols, w, b]))
        setup.append(("e%d" % i, "encode_head", [ref("h%d" % i)]))
        names.append("e%d" % i)
    py_hex, js_hex = both("hex_of", [[ref(n)] for n in names], setup)
    assert py_hex == js_hex
    setup = [("d%d" % k, "bytes_of_hex", [h]) for k, h in enumerate(py_hex)]
    setup += [("m%d" % k, "decode_head", [ref("d%d" % k)]) for k in range(len(py_hex))]
    py_dec, js_dec = both("as_dict", [[ref("m%d" % k)] for k in range(len(py_hex))], setup)
    assert _as_floats(py_dec) == _as_floats(js_dec)


def _corruptions(data):
    """Truncations, trailing bytes, bit flips and field rewrites of one valid encoding."""
    out = [data[:n] for n in (0, 3, 10, 35, len(data) - 1)] + [data + b"\0"]
    for pos in RNG.choice(len(data), size=30, replace=False):
        flipped = bytearray(data)
        flipped[pos] ^= 1 << int(RNG.integers(0, 8))
        out.append(bytes(flipped))
    return out


@pytest.mark.parametrize("kind", ["update", "head"])
def test_malformed_input_is_refused_alike(kind):
    codec = import_py(MODULE)
    w, b = RNG.normal(size=12).tolist(), RNG.normal(size=3).tolist()
    if kind == "update":
        data = codec.encode_update(codec.Update(1, 2, 3, 4, 3, 4, w, b), 10.0)
    else:
        data = codec.encode_head(codec.Head(5, 3, 4, w, b))
    cases = _corruptions(data)
    setup = [("c%d" % k, "bytes_of_hex", [codec.hex_of(c)]) for k, c in enumerate(cases)]
    target = "decode_" + kind
    py, js = both(target, [[ref("c%d" % k)] for k in range(len(cases))], setup)
    errors = [r for r in py if isinstance(r, dict) and "__error__" in r]
    assert len(errors) == len(cases)   # every corruption is caught (CRC covers the rest)
    assert py == js
    assert all(r["__error__"]["type"] == "CodecError" for r in js)


def test_bad_arguments_are_refused_alike():
    w, b = [1.0, 2.0], [0.5]
    cases = [[[1, 2, 3, 0, 1, 2, w, b], 1.0],        # zero examples
             [[-1, 2, 3, 4, 1, 2, w, b], 1.0],       # negative client id
             [[1, 2, 3, 4, 1, 3, w, b], 1.0],        # wrong length
             [[1, 2, 3, 4, 1, 2, w, b], 0],          # bound not positive
             [[1, 2, 3, 4, 1, 2, w, b], -1],
             [[1, 2.5, 3, 4, 1, 2, w, b], 1.0],      # not a whole number
             [[1, 2, 2 ** 32, 4, 1, 2, w, b], 1.0]]  # too big for u32
    setup = [("u%d" % k, "Update", c[0]) for k, c in enumerate(cases)]
    py, js = both("encode_update", [[ref("u%d" % k), c[1]] for k, c in enumerate(cases)],
                  setup)
    assert py == js
    assert all(r["__error__"]["type"] == "CodecError" for r in js)


def test_crc32_matches_zlib_in_both_runtimes():
    import zlib
    blobs = [bytes(RNG.integers(0, 256, size=n, dtype=np.uint8)) for n in (0, 1, 2, 77, 1000)]
    blobs.append(b"\xff" * 64)
    setup = [("x%d" % k, "bytes_of_hex", [blob.hex()]) for k, blob in enumerate(blobs)]
    cases = [[ref("x%d" % k), 0, len(blob)] for k, blob in enumerate(blobs)]
    py, js = both("crc32", cases, setup)
    assert py == js == [zlib.crc32(blob) for blob in blobs]


def test_delta_clipping_parity():
    cases = []
    for scale in (1e-3, 1.0, 100.0):
        w = RNG.normal(scale=scale, size=48).tolist()
        cases.append([{"weights": w, "bias": [scale, -scale, 0.0]}, 1.0])
    cases.append([{"weights": [0.0] * 4, "bias": [0.0]}, 1.0])
    cases.append([{"weights": [1.0], "bias": [1.0]}, 0])
    py = run_py_many("tinybert_core.delta", "clip_delta", cases)
    js = run_js_many("tinybert_core.delta", "clip_delta", cases)
    assert py == js
    norms = [np.linalg.norm(r["weights"] + r["bias"]) for r in py[:4]]
    assert max(norms) <= 1.0 + 1e-12


def test_labels_seen_parity():
    from tests.support.parity import run_js_many, run_py_many

    cases = [[[0, 2, 2], 3], [[], 2], [[1], 4]]
    py = run_py_many("tinybert_core.delta", "labels_seen", cases)
    assert py == run_js_many("tinybert_core.delta", "labels_seen", cases)
    assert py == [[True, False, True], [False, False], [False, True, False, False]]


def test_keep_unseen_rows_parity():
    from tests.support.parity import run_js_many, run_py_many

    cases = [[[1.0, 2.0, 3.0, 4.0], [0.5, -80.0], [9.0, 9.0, 9.0, 9.0], [7.0, 8.0], 2,
              [True, False]],
             [[1.0, 2.0], [0.1, 0.2], [0.0, 0.0], [0.0, 0.0], 1, [False, True]]]
    py = run_py_many("tinybert_core.delta", "keep_unseen_rows", cases)
    assert py == run_js_many("tinybert_core.delta", "keep_unseen_rows", cases)
    assert py[0] == {"weights": [1.0, 2.0, 9.0, 9.0], "bias": [0.5, 8.0]}
