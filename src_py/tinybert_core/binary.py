# __pragma__ ('ecom')
"""Bytes that mean the same in CPython and in the browser: buffers, little-endian numbers,
UTF-8 and JSON text. These are the only lines of binary formats that differ per runtime."""

# An 8-byte DataView for float conversions in the browser, made on first use (a module-level
# reassignment would be bundled as a second, separate variable).
_SCRATCH = {"view": None}


def _view():
    #?if _SCRATCH ["view"] is None:
    #?    _SCRATCH ["view"] = __new__ (DataView (__new__ (ArrayBuffer (8))))
    return _SCRATCH["view"]


def new_bytes(n):
    """A zeroed, writable buffer of ``n`` bytes: bytearray in CPython, Uint8Array in JS."""
    out = None
    # __pragma__ ('skip')
    out = bytearray(n)
    # __pragma__ ('noskip')
    #?out = __new__ (Uint8Array (n))
    return out


def as_bytes(data):
    """Accept bytes-like data (CPython) or a Uint8Array / ArrayBuffer (browser).

    Raises TypeError for anything else.
    """
    # __pragma__ ('skip')
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("expected bytes, got " + type(data).__name__)
    data = bytes(data)
    # __pragma__ ('noskip')
    #?if data is None or typeof (data) != "object":
    #?    raise TypeError ("expected bytes, got " + str (typeof (data)))
    #?if data.constructor is ArrayBuffer:
    #?    data = __new__ (Uint8Array (data))
    #?if data.constructor is not Uint8Array:
    #?    raise TypeError ("expected a Uint8Array or ArrayBuffer")
    return data


def frozen(buffer):
    """The finished bytes of a buffer from ``new_bytes`` (``bytes`` in CPython)."""
    # __pragma__ ('skip')
    buffer = bytes(buffer)
    # __pragma__ ('noskip')
    return buffer


def put_f32(out, pos, value):
    """Write ``value`` as a little-endian IEEE float32 at ``out[pos:pos + 4]``."""
    # __pragma__ ('skip')
    import struct
    packed = struct.pack("<f", value)
    for i in range(4):
        out[pos + i] = packed[i]
    # __pragma__ ('noskip')
    #?view = _view ()
    #?view.setFloat32 (0, value, True)
    #?for i in range (4):
    #?    out [pos + i] = view.getUint8 (i)
    return None


def get_f32(data, pos):
    """Read the little-endian float32 at ``data[pos:pos + 4]``."""
    value = 0.0
    # __pragma__ ('skip')
    import struct
    value = struct.unpack("<f", bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]))[0]
    # __pragma__ ('noskip')
    #?view = _view ()
    #?for i in range (4):
    #?    view.setUint8 (i, data [pos + i])
    #?value = view.getFloat32 (0, True)
    return value


def put_f64(out, pos, value):
    """Write ``value`` as a little-endian IEEE float64 at ``out[pos:pos + 8]``."""
    # __pragma__ ('skip')
    import struct
    packed = struct.pack("<d", value)
    for i in range(8):
        out[pos + i] = packed[i]
    # __pragma__ ('noskip')
    #?view = _view ()
    #?view.setFloat64 (0, value, True)
    #?for i in range (8):
    #?    out [pos + i] = view.getUint8 (i)
    return None


def get_f64(data, pos):
    """Read the little-endian float64 at ``data[pos:pos + 8]``."""
    value = 0.0
    # __pragma__ ('skip')
    import struct
    value = struct.unpack("<d", bytes([data[pos + i] for i in range(8)]))[0]
    # __pragma__ ('noskip')
    #?view = _view ()
    #?for i in range (8):
    #?    view.setUint8 (i, data [pos + i])
    #?value = view.getFloat64 (0, True)
    return value


def fround(value):
    """``value`` rounded to the nearest float32."""
    scratch = [0, 0, 0, 0]
    put_f32(scratch, 0, value)
    return get_f32(scratch, 0)


def put_u32(out, pos, value):
    """Write a whole number in [0, 2**32) little-endian at ``out[pos:pos + 4]``."""
    for i in range(4):
        out[pos + i] = (value >> (8 * i)) & 255   # JS ToInt32 keeps the low 32 bits
    return None


def get_u32(data, pos):
    return data[pos] + data[pos + 1] * 256 + data[pos + 2] * 65536 + data[pos + 3] * 16777216


def put_u64(out, pos, value):
    """Write a whole number in [0, 2**53) as little-endian uint64 (JS numbers stop at 2**53)."""
    put_u32(out, pos, value % 4294967296)
    put_u32(out, pos + 4, value // 4294967296)
    return None


def get_u64(data, pos):
    return get_u32(data, pos) + get_u32(data, pos + 4) * 4294967296


def utf8_encode(text):
    """The UTF-8 bytes of ``text``."""
    out = None
    # __pragma__ ('skip')
    out = text.encode("utf-8")
    # __pragma__ ('noskip')
    #?out = __new__ (TextEncoder ()).encode (text)
    return out


def utf8_decode(data, start, end):
    """Decode ``data[start:end]`` as strict UTF-8; raises ValueError on invalid bytes."""
    out = None
    # __pragma__ ('skip')
    try:
        out = bytes(data[start:end]).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not valid UTF-8 text")
    # __pragma__ ('noskip')
    #?try:
    #?    out = __new__ (TextDecoder ("utf-8", {"fatal": True})).decode (data.subarray (start, end))
    #?except:
    #?    raise ValueError ("not valid UTF-8 text")
    return out


def json_dumps(value):
    """Compact JSON text of plain data (the same text in both runtimes for ordinary values)."""
    out = None
    # __pragma__ ('skip')
    import json
    out = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    # __pragma__ ('noskip')
    #?out = JSON.stringify (value)
    return out


def json_loads(text):
    """Parse JSON text; raises ValueError when it is not JSON."""
    out = None
    # __pragma__ ('skip')
    import json
    try:
        out = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not valid JSON")
    # __pragma__ ('noskip')
    #?try:
    #?    out = JSON.parse (text)
    #?except:
    #?    raise ValueError ("not valid JSON")
    return out


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def base64_encode(data):
    """Standard base64 text (with ``=`` padding) of ``data``."""
    data = as_bytes(data)
    parts = []
    for i in range(0, len(data), 3):
        n = len(data) - i
        a = data[i]
        b = data[i + 1] if n > 1 else 0
        c = data[i + 2] if n > 2 else 0
        triple = a * 65536 + b * 256 + c
        parts.append(_B64[(triple >> 18) & 63] + _B64[(triple >> 12) & 63]
                     + (_B64[(triple >> 6) & 63] if n > 1 else "=")
                     + (_B64[triple & 63] if n > 2 else "="))
    return "".join(parts)


def base64_decode(text):
    """The bytes of standard base64 ``text`` (padding required); raises ValueError on
    anything else."""
    if not isinstance(text, str) or len(text) % 4 != 0:
        raise ValueError("not base64 text")
    pad = 0
    if len(text) > 0 and text[len(text) - 1] == "=":
        pad = 2 if text[len(text) - 2] == "=" else 1
    out = new_bytes(len(text) // 4 * 3 - pad)
    pos = 0
    for i in range(0, len(text), 4):
        triple = 0
        for j in range(4):
            ch = text[i + j]
            value = 0
            if ch == "=":
                if i + 4 != len(text) or j < 4 - pad:
                    raise ValueError("not base64 text")
            else:
                value = _B64.find(ch)
                if value < 0:
                    raise ValueError("not base64 text")
            triple = triple * 64 + value
        for j in range(3):
            if pos < len(out):
                out[pos] = (triple >> (16 - 8 * j)) & 255
                pos += 1
    return frozen(out)
