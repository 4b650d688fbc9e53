"""The page's WebCrypto code (transpiled, run in Node's WebCrypto) and the server's
``cryptography`` code give identical ECDH secrets, HKDF keys, AES-CTR masks and AES-GCM
ciphertexts on fixed inputs, and verify each other's ECDSA signatures."""
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fl import secagg_crypto as crypto
from tests.support.parity import ref, run_js_many, run_js_values
from tinybert_core.secagg import key_info

MODULE = "services.webcrypto"


def js(target, cases, setup=None):
    results = run_js_many(MODULE, target, cases, setup)
    assert not any(isinstance(r, dict) and "__error__" in r for r in results), results
    return results


def test_hkdf_aes_ctr_and_aes_gcm_bytes_are_identical():
    secrets = [os.urandom(32) for _ in range(3)]
    infos = [key_info("pair-mask", 1, 2, 3), key_info("self-mask", 4000000000, 7, 7),
             key_info("share", 0, 9, 1)]
    keys = js("derive_key", [[s, i] for s, i in zip(secrets, infos)])
    purposes = [("pair-mask", 1, 2, 3), ("self-mask", 4000000000, 7, 7), ("share", 0, 9, 1)]
    assert [bytes(k) for k in keys] == [crypto.derive_key(s, *p)
                                        for s, p in zip(secrets, purposes)]
    words = js("mask_words", [[bytes(k), 1157] for k in keys])
    assert [list(w) for w in words] == [crypto.mask_words(bytes(k), 1157).tolist()
                                        for k in keys]
    nonce, text, aad = os.urandom(12), os.urandom(72), os.urandom(12)
    sealed = js("seal", [[bytes(keys[0]), nonce, text, aad]])[0]
    assert bytes(sealed) == crypto.seal(bytes(keys[0]), nonce, text, aad)
    opened = js("open_sealed", [[bytes(keys[0]), crypto.seal(bytes(keys[0]), nonce, text, aad),
                                 aad]])[0]
    assert bytes(opened) == text


def test_ecdh_secrets_and_exported_scalars_agree():
    python_key = crypto.new_private_key()
    python_public = crypto.public_bytes(python_key)
    setup = [("pair", "new_ecdh_key", []), ("public", "public_raw", [ref("pair")]),
             ("scalar", "private_scalar", [ref("pair")]),
             ("secret", "shared_secret", [ref("pair"), python_public])]
    public, scalar, secret = (bytes(v) for v in
                              run_js_values(MODULE, setup, ["public", "scalar", "secret"]))
    rebuilt = crypto.private_key_from_scalar(scalar)   # what the server does after Shamir
    assert crypto.public_bytes(rebuilt) == public
    assert crypto.shared_secret(python_key, public) == secret
    assert crypto.shared_secret(rebuilt, python_public) == secret


def test_ecdsa_signatures_verify_across_runtimes():
    data = os.urandom(500)
    setup = [("pair", "new_signing_key", []), ("public", "signing_public_raw", [ref("pair")]),
             ("signature", "sign", [ref("pair"), data])]
    public, signature = (bytes(v) for v in run_js_values(MODULE, setup, ["public", "signature"]))
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
    python_key = ec.generate_private_key(ec.SECP256R1())
    r, s = decode_dss_signature(python_key.sign(data, ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    point = python_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert js("verify", [[point, raw, data], [point, raw, data + b"x"],
                         [b"\x04" + bytes(64), raw, data]]) == [True, False, False]
