# __pragma__ ('ecom')
"""The federated-learning wire format: the one codec shared by the browser and the server.

Pure (it imports only the core's byte and number helpers): the server imports it as
``tinybert_core.codec`` and the browser runs it transpiled; both produce and accept the same
bytes. Bytes are a ``bytes`` object in CPython and a ``Uint8Array`` in the browser. All integers
little-endian.

Update (browser -> server), format version 1, scheme 1 (int8 delta, one float32 scale a row)::

    offset  size       field
    0       4          magic "FLDU"
    4       1          format version (1)
    5       1          scheme (1: int8 values, symmetric, per-row float32 scale)
    6       2          reserved, 0
    8       4  u32     client id
    12      4  u32     round id
    16      4  u32     global head version the delta was trained from
    20      4  u32     number of local examples (>= 1)
    24      4  u32     rows k (labels)
    28      4  u32     cols d (embedding size)
    32      4k f32     weight-row scales
    ..      k*d i8     weight delta, row-major; value = q * scale[row], q in [-127, 127]
    ..      4  f32     bias scale
    ..      k  i8      bias delta
    ..      4  u32     CRC-32 (zlib's) of every byte before it

Global head (server -> browser: the body of ``GET /api/head``), version 1, kind 2 (float32)::

    0 magic "FLHD", 4 version (1), 5 kind (2), 6 reserved u16 0, 8 u32 head version,
    12 u32 rows k, 16 u32 cols d, 20 f32 weights (k*d, row-major), then f32 bias (k),
    then u32 CRC-32 of every byte before it.

Client use: ``decode_head(bytes of GET /api/head)``; train from it;
``tinybert_core.delta.clip_delta`` the delta to the announced ``clip_bound``;
``encode_update(Update(client_id, round id, head version, examples, rows, cols, weights, bias),
clip_bound)`` (positional arguments only).

Decoding checks everything and raises ``CodecError`` (a ``ValueError``) whose ``reason`` is
one of ``REASONS``. Transcrypt rules (see the project's notes) apply to every line here.
"""
import math

from tinybert_core.arrays import zeros
from tinybert_core.binary import (
    as_bytes,
    fround,
    frozen,
    get_f32,
    get_u32,
    new_bytes,
    put_f32,
    put_u32,
)
from tinybert_core.checks import is_finite

MAGIC_UPDATE = [70, 76, 68, 85]   # "FLDU"
MAGIC_HEAD = [70, 76, 72, 68]     # "FLHD"
FORMAT_VERSION = 1
SCHEME_INT8_ROWS = 1
KIND_FLOAT32 = 2
UPDATE_HEADER = 32
HEAD_HEADER = 20
MAX_ROWS = 4096
MAX_COLS = 65536
QMAX = 127
F32_MAX = 3.4028234663852886e+38
U32_LIMIT = 4294967296
REASONS = ["truncated", "bad_magic", "bad_version", "bad_scheme", "bad_shape", "bad_length",
           "bad_checksum", "bad_field", "non_finite", "too_large"]

_CRC_TABLE = None


class CodecError(ValueError):
    """Malformed or unencodable data. ``reason``: one of ``REASONS``; the message says more."""

    def __init__(self, reason, message):
        ValueError.__init__(self, message)
        self.reason = reason


class Update:
    """One client's contribution to a round: the quantisable delta (local - global) and its
    context. ``weights``: k*d floats row-major; ``bias``: k floats."""

    def __init__(self, client_id, round_id, base_version, num_examples, rows, cols, weights,
                 bias):
        self.client_id = client_id
        self.round_id = round_id
        self.base_version = base_version
        self.num_examples = num_examples
        self.rows = rows
        self.cols = cols
        self.weights = weights
        self.bias = bias


class Head:
    """A global head: ``version``, shape ``rows`` x ``cols``, float32 ``weights`` and ``bias``."""

    def __init__(self, version, rows, cols, weights, bias):
        self.version = version
        self.rows = rows
        self.cols = cols
        self.weights = weights
        self.bias = bias


def as_dict(message):
    """The fields of an Update or a Head as a plain dict (for logs, JSON and tests)."""
    out = {"rows": message.rows, "cols": message.cols, "weights": message.weights,
           "bias": message.bias}
    if isinstance(message, Update):
        out["client_id"] = message.client_id
        out["round_id"] = message.round_id
        out["base_version"] = message.base_version
        out["num_examples"] = message.num_examples
    else:
        out["version"] = message.version
    return out


# --- small pure pieces ------------------------------------------------------------------

def _check_u32(name, value, low):
    if not is_finite(value) or math.floor(value) != value or value < low or value >= U32_LIMIT:
        raise CodecError("bad_field", name + " must be a whole number in [" + str(low)
                         + ", 2**32)")
    return None


def _crc_table():
    global _CRC_TABLE
    if _CRC_TABLE is None:
        table = []
        for n in range(256):
            c = n
            for k in range(8):
                if (c & 1) == 1:
                    c = 0xEDB88320 ^ ((c >> 1) & 0x7FFFFFFF)
                else:
                    c = (c >> 1) & 0x7FFFFFFF
            table.append(c)
        _CRC_TABLE = table
    return _CRC_TABLE


def crc32(data, start, end):
    """CRC-32 (the polynomial zlib uses) of ``data[start:end]``, as an unsigned 32-bit int."""
    table = _crc_table()
    crc = 0xFFFFFFFF
    for i in range(start, end):
        # ">> 8 & 0xFFFFFF" keeps JavaScript's signed 32-bit shifts equal to Python's.
        crc = table[(crc ^ data[i]) & 255] ^ ((crc >> 8) & 0xFFFFFF)
    return (crc ^ 0xFFFFFFFF) % U32_LIMIT


def hex_of(data):
    """Lower-case hex text of ``data`` (for logs, tests and the browser console)."""
    digits = "0123456789abcdef"
    parts = []
    for i in range(len(data)):
        parts.append(digits[data[i] >> 4] + digits[data[i] & 15])
    return "".join(parts)


def bytes_of_hex(text):
    """The bytes that ``hex_of`` wrote as ``text``. Raises CodecError on anything else."""
    digits = "0123456789abcdef"
    if len(text) % 2 != 0:
        raise CodecError("bad_length", "hex text has an odd number of digits")
    out = new_bytes(len(text) // 2)
    for i in range(len(text) // 2):
        high = digits.find(text[2 * i].lower())
        low = digits.find(text[2 * i + 1].lower())
        if high < 0 or low < 0:
            raise CodecError("bad_field", "not a hex digit near position " + str(2 * i))
        out[i] = high * 16 + low
    return frozen(out)


# --- quantisation --------------------------------------------------------------------------

def _round_half_away(value):
    magnitude = math.floor(abs(value) + 0.5)
    return -magnitude if value < 0 else magnitude


def _row_scale(values, start, count):
    top = 0.0
    for i in range(start, start + count):
        if not is_finite(values[i]):
            raise CodecError("non_finite", "delta value " + str(i) + " is not finite")
        if abs(values[i]) > top:
            top = abs(values[i])
    if top / QMAX > F32_MAX:
        raise CodecError("too_large", "a delta value is too large for a float32 scale")
    return fround(top / QMAX)


def _quantise(values, start, count, scale, out, pos):
    """Write ``count`` int8 codes of ``values[start:]`` at ``out[pos:]``; return sum of q*q."""
    total = 0
    for i in range(count):
        q = 0
        if scale > 0:
            q = _round_half_away(values[start + i] / scale)
            if q > QMAX:
                q = QMAX
            if q < -QMAX:
                q = -QMAX
        out[pos + i] = q & 255
        total += q * q
    return total


def encode_update(update, bound):
    """Quantise ``update`` (an Update holding float deltas) and return its bytes.

    Each weight row and the bias get their own float32 scale (largest magnitude / 127) and
    int8 codes rounded half away from zero. ``bound`` (> 0) is the server's clip bound: if the
    dequantised delta's L2 norm exceeds it, every scale is shrunk so the encoded norm is within
    it (call ``clip_delta`` first; this only absorbs what rounding adds). Raises CodecError on
    a bad field, a wrong length, a value that is not finite or too large for float32.
    """
    rows = update.rows
    cols = update.cols
    _check_u32("client_id", update.client_id, 0)
    _check_u32("round_id", update.round_id, 0)
    _check_u32("base_version", update.base_version, 0)
    _check_u32("num_examples", update.num_examples, 1)
    _check_u32("rows", rows, 1)
    _check_u32("cols", cols, 1)
    _check_shape(rows, cols)
    if len(update.weights) != rows * cols or len(update.bias) != rows:
        raise CodecError("bad_shape", "weights must hold rows*cols = " + str(rows * cols)
                         + " values and bias rows = " + str(rows) + ", got "
                         + str(len(update.weights)) + " and " + str(len(update.bias)))
    if not is_finite(bound) or bound <= 0:
        raise CodecError("bad_field", "the clip bound must be a positive number")
    size = UPDATE_HEADER + 4 * rows + rows * cols + 4 + rows + 4
    out = new_bytes(size)
    for i in range(4):
        out[i] = MAGIC_UPDATE[i]
    out[4] = FORMAT_VERSION
    out[5] = SCHEME_INT8_ROWS
    put_u32(out, 8, update.client_id)
    put_u32(out, 12, update.round_id)
    put_u32(out, 16, update.base_version)
    put_u32(out, 20, update.num_examples)
    put_u32(out, 24, rows)
    put_u32(out, 28, cols)
    # scales[r] for r < rows are weight rows, scales[rows] is the bias.
    scales = []
    squares = []
    pos = UPDATE_HEADER + 4 * rows
    for r in range(rows):
        scale = _row_scale(update.weights, r * cols, cols)
        scales.append(scale)
        squares.append(_quantise(update.weights, r * cols, cols, scale, out, pos + r * cols))
    pos = pos + rows * cols + 4
    scale = _row_scale(update.bias, 0, rows)
    scales.append(scale)
    squares.append(_quantise(update.bias, 0, rows, scale, out, pos))
    norm = 0.0
    for r in range(rows + 1):
        norm += scales[r] * scales[r] * squares[r]
    norm = math.sqrt(norm)
    if norm > bound:
        # float32 rounding moves a scale by at most 2**-24 relative, well inside the margin.
        factor = bound / norm * (1.0 - 1e-6)
        for r in range(rows + 1):
            scales[r] = fround(scales[r] * factor)
    for r in range(rows):
        put_f32(out, UPDATE_HEADER + 4 * r, scales[r])
    put_f32(out, UPDATE_HEADER + 4 * rows + rows * cols, scales[rows])
    put_u32(out, size - 4, crc32(out, 0, size - 4))
    return frozen(out)


# --- decoding ------------------------------------------------------------------------------

def _check_frame(data, magic, header, what):
    if len(data) < header + 4:
        raise CodecError("truncated", what + " is truncated: " + str(len(data))
                         + " bytes, a header alone is " + str(header + 4))
    for i in range(4):
        if data[i] != magic[i]:
            raise CodecError("bad_magic", "not " + what + " (wrong magic bytes)")
    if data[4] != FORMAT_VERSION:
        raise CodecError("bad_version", what + " has format version " + str(data[4])
                         + "; this codec reads version " + str(FORMAT_VERSION))
    if data[6] != 0 or data[7] != 0:
        raise CodecError("bad_field", "reserved header bytes of " + what + " are not zero")
    return None


def _check_shape(rows, cols):
    if rows < 1 or cols < 1 or rows > MAX_ROWS or cols > MAX_COLS:
        raise CodecError("bad_shape", "shape " + str(rows) + " x " + str(cols)
                         + " is outside 1..." + str(MAX_ROWS) + " x 1..." + str(MAX_COLS))
    return None


def _check_size_and_crc(data, size, what):
    if len(data) < size:
        raise CodecError("truncated", what + " is truncated: " + str(len(data))
                         + " bytes, its header announces " + str(size))
    if len(data) > size:
        raise CodecError("bad_length", what + " has " + str(len(data) - size)
                         + " bytes after its checksum")
    if crc32(data, 0, size - 4) != get_u32(data, size - 4):
        raise CodecError("bad_checksum", what + " fails its CRC-32 check (corrupted)")
    return None


def _read_scale(data, pos):
    scale = get_f32(data, pos)
    if not is_finite(scale) or scale < 0:
        raise CodecError("non_finite", "a scale is not a finite non-negative number")
    return scale


def _dequantise(data, pos, count, scale, out, start):
    for i in range(count):
        q = data[pos + i]
        if q > 127:
            q = q - 256
        if q < -QMAX:
            raise CodecError("bad_field", "int8 code -128 is not used by this scheme")
        out[start + i] = q * scale
    return None


def decode_update(data):
    """Parse and check update bytes; return an Update holding the dequantised floats.

    Raises CodecError (``reason`` in REASONS) on anything malformed: truncated, wrong magic,
    version or scheme, shape out of range, trailing bytes, CRC mismatch, non-zero reserved
    bytes, zero examples, a scale that is negative or not finite, or the unused code -128.
    """
    data = as_bytes(data)
    _check_frame(data, MAGIC_UPDATE, UPDATE_HEADER, "an update")
    if data[5] != SCHEME_INT8_ROWS:
        raise CodecError("bad_scheme", "unknown quantisation scheme " + str(data[5])
                         + "; this codec reads scheme " + str(SCHEME_INT8_ROWS))
    rows = get_u32(data, 24)
    cols = get_u32(data, 28)
    _check_shape(rows, cols)
    size = UPDATE_HEADER + 4 * rows + rows * cols + 4 + rows + 4
    _check_size_and_crc(data, size, "the update")
    num_examples = get_u32(data, 20)
    if num_examples < 1:
        raise CodecError("bad_field", "an update must count at least one example")
    weights = zeros(rows * cols)
    pos = UPDATE_HEADER + 4 * rows
    for r in range(rows):
        scale = _read_scale(data, UPDATE_HEADER + 4 * r)
        _dequantise(data, pos + r * cols, cols, scale, weights, r * cols)
    pos = pos + rows * cols
    bias = zeros(rows)
    _dequantise(data, pos + 4, rows, _read_scale(data, pos), bias, 0)
    return Update(get_u32(data, 8), get_u32(data, 12), get_u32(data, 16), num_examples,
                  rows, cols, weights, bias)


def encode_head(head):
    """Bytes of a global Head (weights and bias rounded to float32). Raises CodecError."""
    _check_u32("version", head.version, 0)
    _check_u32("rows", head.rows, 1)
    _check_u32("cols", head.cols, 1)
    _check_shape(head.rows, head.cols)
    count = head.rows * head.cols
    if len(head.weights) != count or len(head.bias) != head.rows:
        raise CodecError("bad_shape", "head weights must hold " + str(count)
                         + " values and bias " + str(head.rows))
    size = HEAD_HEADER + 4 * (count + head.rows) + 4
    out = new_bytes(size)
    for i in range(4):
        out[i] = MAGIC_HEAD[i]
    out[4] = FORMAT_VERSION
    out[5] = KIND_FLOAT32
    put_u32(out, 8, head.version)
    put_u32(out, 12, head.rows)
    put_u32(out, 16, head.cols)
    for i in range(count + head.rows):
        value = head.weights[i] if i < count else head.bias[i - count]
        if not is_finite(value) or abs(value) > F32_MAX:
            raise CodecError("non_finite", "head value " + str(i) + " is not a finite float32")
        put_f32(out, HEAD_HEADER + 4 * i, value)
    put_u32(out, size - 4, crc32(out, 0, size - 4))
    return frozen(out)


def decode_head(data):
    """Parse and check head bytes; return a Head. Raises CodecError like decode_update."""
    data = as_bytes(data)
    _check_frame(data, MAGIC_HEAD, HEAD_HEADER, "a head")
    if data[5] != KIND_FLOAT32:
        raise CodecError("bad_scheme", "unknown head kind " + str(data[5]))
    rows = get_u32(data, 12)
    cols = get_u32(data, 16)
    _check_shape(rows, cols)
    count = rows * cols
    _check_size_and_crc(data, HEAD_HEADER + 4 * (count + rows) + 4, "the head")
    weights = zeros(count)
    bias = zeros(rows)
    for i in range(count + rows):
        value = get_f32(data, HEAD_HEADER + 4 * i)
        if not is_finite(value):
            raise CodecError("non_finite", "head value " + str(i) + " is not finite")
        if i < count:
            weights[i] = value
        else:
            bias[i - count] = value
    return Head(get_u32(data, 8), rows, cols, weights, bias)
