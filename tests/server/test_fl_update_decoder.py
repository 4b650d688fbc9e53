"""The server's numpy decoder of updates gives what the shared codec gives: the same values
for every well-formed update and the same CodecError (reason and message) for every bad one."""
import struct
import zlib

import numpy as np
import pytest

from fl.update_decoder import decode_update
from tinybert_core import codec

FIELDS = ("client_id", "round_id", "base_version", "num_examples", "rows", "cols")


def _encoded(rng, rows=3, cols=384, scale=0.02):
    weights = rng.normal(scale=scale, size=rows * cols)
    weights[rng.integers(0, rows * cols, size=5)] = 0.0
    update = codec.Update(int(rng.integers(1, 2**32)), int(rng.integers(0, 2**32)),
                          int(rng.integers(0, 2**32)), int(rng.integers(1, 2**32)), rows, cols,
                          weights.tolist(), rng.normal(scale=scale, size=rows).tolist())
    return codec.encode_update(update, 10.0)


def _outcome(decode, data):
    try:
        update = decode(data)
    except codec.CodecError as exc:
        return ("error", exc.reason, str(exc))
    return ("update",) + tuple(getattr(update, f) for f in FIELDS) + (
        [float(v) for v in update.weights], [float(v) for v in update.bias])


def _with_crc(data):
    data = bytearray(data)
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(bytes(data[:-4])))
    return bytes(data)


def test_well_formed_updates_decode_to_the_same_values():
    rng = np.random.default_rng(0)
    for rows, cols in [(3, 384), (1, 1), (7, 5), (2, 1000)]:
        for scale in (0.02, 1.0, 1e-30, 0.0):
            data = _encoded(rng, rows, cols, scale)
            assert _outcome(decode_update, data) == _outcome(codec.decode_update, data)


def test_bad_updates_raise_the_codec_error():
    rng = np.random.default_rng(1)
    good = _encoded(rng)
    pos_bias_scale = 32 + 12 + 1152
    cases = [b"", good[:30], good[:-1], good + b"\0", b"XXXX" + good[4:],
             _with_crc(good[:4] + b"\x02" + good[5:]), _with_crc(good[:5] + b"\x07" + good[6:]),
             _with_crc(good[:6] + b"\x01" + good[7:]),
             _with_crc(good[:20] + struct.pack("<I", 0) + good[24:]),
             _with_crc(good[:24] + struct.pack("<I", 0) + good[28:]),
             _with_crc(good[:24] + struct.pack("<I", 5000) + good[28:]),
             _with_crc(good[:28] + struct.pack("<I", 383) + good[32:]),
             _with_crc(good[:32] + struct.pack("<f", float("nan")) + good[36:]),
             _with_crc(good[:36] + struct.pack("<f", -1.0) + good[40:]),
             _with_crc(good[:pos_bias_scale] + struct.pack("<f", float("inf"))
                       + good[pos_bias_scale + 4:]),
             _with_crc(good[:100] + b"\x80" + good[101:]),
             _with_crc(good[:-5] + b"\x80" + good[-4:]),
             good[:-5] + bytes([good[-5] ^ 1]) + good[-4:]]
    for data in cases:
        expected = _outcome(codec.decode_update, data)
        assert expected[0] == "error"
        assert _outcome(decode_update, data) == expected
    with pytest.raises(TypeError):
        decode_update("not bytes")


def test_random_corruptions_agree_with_the_codec():
    rng = np.random.default_rng(2)
    good = bytearray(_encoded(rng, 2, 16))
    for _ in range(500):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        if rng.random() < 0.7:
            data = bytearray(_with_crc(data))
        assert _outcome(decode_update, bytes(data)) == _outcome(codec.decode_update, bytes(data))
