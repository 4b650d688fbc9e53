"""The core's base64 against Python's ``base64`` module, and in Node."""
import base64
import os

import pytest

from tests.support.parity import run_js_many, run_py_many
from tinybert_core.binary import base64_decode, base64_encode

SAMPLES = [b"", b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", bytes(range(256))] + [
    os.urandom(n) for n in (1, 2, 3, 31, 32, 65, 100)]


def test_encoding_and_decoding_match_pythons_base64():
    for data in SAMPLES:
        text = base64_encode(data)
        assert text == base64.b64encode(data).decode()
        assert base64_decode(text) == data


@pytest.mark.parametrize("bad", ["abc", "ab=c", "a===", "ab$=", "=abc", "ab==cd=="])
def test_malformed_text_is_refused(bad):
    with pytest.raises(ValueError, match="base64"):
        base64_decode(bad)


def test_the_transpiled_code_agrees():
    cases = [[data] for data in SAMPLES]
    assert run_js_many("tinybert_core.binary", "base64_encode", cases) == \
        run_py_many("tinybert_core.binary", "base64_encode", cases)
    texts = [[base64.b64encode(data).decode()] for data in SAMPLES] + [["ab=c"]]
    assert run_js_many("tinybert_core.binary", "base64_decode", texts) == \
        run_py_many("tinybert_core.binary", "base64_decode", texts)
