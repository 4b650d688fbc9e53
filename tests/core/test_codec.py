"""The wire codec under CPython: layout, round trips, error bounds, clipping and refusals."""
import math
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybert_core import codec
from tinybert_core.delta import clip_delta, delta_norm, delta_of

RNG = np.random.default_rng(3)


def _update(rows=3, cols=8, scale=1.0, **fields):
    w = RNG.normal(scale=scale, size=rows * cols).tolist()
    b = RNG.normal(scale=scale, size=rows).tolist()
    args = dict(client_id=7, round_id=5, base_version=4, num_examples=12)
    args.update(fields)
    return codec.Update(args["client_id"], args["round_id"], args["base_version"],
                        args["num_examples"], rows, cols, w, b)


def _reason(data, decode=codec.decode_update):
    with pytest.raises(codec.CodecError) as info:
        decode(data)
    assert isinstance(info.value, ValueError)
    assert info.value.reason in codec.REASONS
    return info.value.reason


def _with_crc(data):
    data = bytearray(data)
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(bytes(data[:-4])))
    return bytes(data)


def test_layout_is_as_documented():
    u = _update(rows=2, cols=3)
    data = codec.encode_update(u, 1e9)
    assert data[:4] == b"FLDU" and data[4] == 1 and data[5] == 1 and data[6:8] == b"\0\0"
    assert struct.unpack_from("<6I", data, 8) == (7, 5, 4, 12, 2, 3)
    assert len(data) == 32 + 4 * 2 + 2 * 3 + 4 + 2 + 4
    assert struct.unpack_from("<I", data, len(data) - 4)[0] == zlib.crc32(data[:-4])
    scales = struct.unpack_from("<2f", data, 32)
    codes = struct.unpack_from("<6b", data, 40)
    for r in range(2):
        row = u.weights[3 * r:3 * r + 3]
        assert scales[r] == np.float32(max(abs(v) for v in row) / 127)
        assert max(abs(c) for c in codes[3 * r:3 * r + 3]) == 127


def test_round_trip_error_is_within_half_a_step():
    for scale in (1e-20, 1e-3, 1.0, 1e20):
        u = _update(rows=3, cols=384, scale=scale)
        v = codec.decode_update(codec.encode_update(u, 1e300))
        assert (v.client_id, v.round_id, v.base_version, v.num_examples) == (7, 5, 4, 12)
        w, dw = np.reshape(u.weights, (3, 384)), np.reshape(v.weights, (3, 384))
        step = np.abs(w).max(axis=1, keepdims=True) / 127
        assert np.all(np.abs(w - dw) <= step * (0.5 + 1e-6))
        assert np.abs(np.array(u.bias) - v.bias).max() <= np.abs(u.bias).max() / 127 * 0.51


def test_zero_and_subnormal_deltas():
    u = codec.Update(1, 1, 0, 1, 2, 2, [0.0, -0.0, 1e-320, 0.0], [0.0, 0.0])
    v = codec.decode_update(codec.encode_update(u, 1.0))
    assert list(v.weights) == [0.0, 0.0, 0.0, 0.0] and list(v.bias) == [0.0, 0.0]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 30), st.floats(1e-6, 1e6), st.floats(-30, 30),
       st.integers(0, 2 ** 32 - 1))
def test_encoded_norm_never_exceeds_the_bound(rows, cols, bound, log_scale, seed):
    rng = np.random.default_rng(seed)
    values = rng.normal(scale=10.0 ** log_scale, size=rows * cols + rows)
    delta = {"weights": values[:rows * cols].tolist(), "bias": values[rows * cols:].tolist()}
    clipped = clip_delta(delta, bound)
    assert delta_norm(clipped) <= bound * (1 + 1e-12)
    u = codec.Update(1, 2, 3, 4, rows, cols, clipped["weights"], clipped["bias"])
    v = codec.decode_update(codec.encode_update(u, bound))
    assert math.sqrt(np.sum(np.square(v.weights)) + np.sum(np.square(v.bias))) <= bound


def test_head_round_trip_is_exact_in_float32():
    w = RNG.normal(size=3 * 384).astype(np.float32)
    b = RNG.normal(size=3).astype(np.float32)
    head = codec.decode_head(codec.encode_head(codec.Head(9, 3, 384, w.tolist(), b.tolist())))
    assert head.version == 9 and (head.rows, head.cols) == (3, 384)
    assert np.array_equal(np.float32(head.weights), w) and np.array_equal(np.float32(head.bias), b)
    data = codec.encode_head(codec.Head(1, 1, 2, [1.0, 2.0], [3.0]))
    assert data[:8] == b"FLHD\x01\x02\0\0"
    assert struct.unpack_from("<3I3f", data, 8) == (1, 1, 2, 1.0, 2.0, 3.0)


def test_decoding_refuses_malformed_updates():
    data = codec.encode_update(_update(), 10.0)
    assert _reason(b"") == "truncated"
    assert _reason(data[:-1]) == "truncated"
    assert _reason(data + b"\0") == "bad_length"
    assert _reason(b"NOPE" + data[4:]) == "bad_magic"
    assert _reason(data[:4] + b"\x02" + data[5:]) == "bad_version"
    assert _reason(_with_crc(data[:5] + b"\x07" + data[6:])) == "bad_scheme"
    assert _reason(_with_crc(data[:6] + b"\x01" + data[7:])) == "bad_field"
    assert _reason(data[:20] + b"\1" + data[21:]) == "bad_checksum"
    assert _reason(_with_crc(data[:20] + b"\0\0\0\0" + data[24:])) == "bad_field"  # 0 examples
    assert _reason(data[:24] + struct.pack("<I", 5000) + data[28:]) == "bad_shape"
    assert _reason(data[:24] + struct.pack("<I", 2) + data[28:]) == "bad_length"
    nan_scale = data[:32] + struct.pack("<f", float("nan")) + data[36:]
    assert _reason(_with_crc(nan_scale)) == "non_finite"
    negative = data[:32] + struct.pack("<f", -1.0) + data[36:]
    assert _reason(_with_crc(negative)) == "non_finite"
    minus_128 = data[:44] + b"\x80" + data[45:]
    assert _reason(_with_crc(minus_128)) == "bad_field"
    with pytest.raises(TypeError):
        codec.decode_update("not bytes")


def test_decoding_refuses_malformed_heads():
    data = codec.encode_head(codec.Head(1, 2, 2, [1.0, 2.0, 3.0, 4.0], [0.0, 1.0]))
    assert _reason(data[:-2], codec.decode_head) == "truncated"
    assert _reason(codec.encode_update(_update(), 1.0), codec.decode_head) == "bad_magic"
    inf = data[:20] + struct.pack("<f", float("inf")) + data[24:]
    assert _reason(_with_crc(inf), codec.decode_head) == "non_finite"


def test_encoding_refuses_what_it_cannot_represent():
    def reason(update, bound=1.0):
        with pytest.raises(codec.CodecError) as info:
            codec.encode_update(update, bound)
        return info.value.reason

    assert reason(codec.Update(1, 1, 1, 1, 1, 2, [float("nan"), 0.0], [0.0])) == "non_finite"
    assert reason(codec.Update(1, 1, 1, 1, 1, 2, [float("inf"), 0.0], [0.0])) == "non_finite"
    assert reason(codec.Update(1, 1, 1, 1, 1, 2, [1e300, 0.0], [0.0]), 1e301) == "too_large"
    assert reason(codec.Update(1, 1, 1, 1, 1, 3, [1.0, 0.0], [0.0])) == "bad_shape"
    assert reason(codec.Update(1, 1, 1, 0, 1, 2, [1.0, 0.0], [0.0])) == "bad_field"
    assert reason(codec.Update(1, 1, 1, 1, 1, 2, [1.0, 0.0], [0.0]), float("nan")) == "bad_field"
    with pytest.raises(codec.CodecError):
        codec.encode_head(codec.Head(1, 1, 1, [float("nan")], [0.0]))


def test_hex_helpers_and_crc():
    blob = bytes(range(256))
    assert codec.hex_of(blob) == blob.hex()
    assert codec.bytes_of_hex(blob.hex().upper()) == blob
    assert codec.crc32(blob, 0, 256) == zlib.crc32(blob)
    for bad in ("abc", "zz"):
        with pytest.raises(codec.CodecError):
            codec.bytes_of_hex(bad)


def test_delta_helpers():
    d = delta_of([1.0, 2.0], [0.5], [0.5, 2.0], [1.0])
    assert list(d["weights"]) == [0.5, 0.0] and list(d["bias"]) == [-0.5]
    assert delta_norm(d) == pytest.approx(math.sqrt(0.5))
    assert clip_delta(d, 10.0)["weights"] == d["weights"]
    with pytest.raises(ValueError):
        clip_delta(d, 0.0)
    with pytest.raises(ValueError):
        delta_of([1.0], [], [1.0, 2.0], [])


def test_labels_without_local_examples_keep_the_global_row():
    from tinybert_core.delta import keep_unseen_rows, labels_seen

    local_w, local_b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0.1, -80.0, 0.3]
    global_w, global_b = [9.0] * 6, [7.0, 8.0, 9.0]
    seen = labels_seen([0, 2, 2], 3)
    assert seen == [True, False, True]
    keep_unseen_rows(local_w, local_b, global_w, global_b, 2, seen)
    assert local_w == [1.0, 2.0, 9.0, 9.0, 5.0, 6.0] and local_b == [0.1, 8.0, 0.3]
