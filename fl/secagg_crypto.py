"""The cryptography of secure aggregation on the Python side (the ``cryptography`` package):
the same primitives and bytes as the page's WebCrypto code.

- Key agreement: ECDH on P-256; public keys travel as 65-byte uncompressed points (what
  WebCrypto's ``exportKey("raw")`` gives), private keys as their 32-byte big-endian scalar
  (the ``d`` of a JWK), which is what Shamir shares of a mask key rebuild.
- Keys from a shared secret or a seed: HKDF-SHA256 with an empty salt and the ``info`` bytes
  of ``tinybert_core.secagg.key_info``, 32 bytes.
- Masks: AES-256-CTR from a zero counter block over zero bytes, read as little-endian u32.
- Relayed shares: AES-256-GCM, 12-byte nonce, associated data from
  ``tinybert_core.secagg.associated_data``; the nonce is sent before the ciphertext.

Used by the server to remove the masks it is allowed to remove, and by Python clients (tests,
benchmarks) that take part in a round like a browser.
"""
import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tinybert_core.secagg import key_info

CURVE = ec.SECP256R1()
NONCE_BYTES = 12


class CryptoError(ValueError):
    """A key, nonce or ciphertext that cannot be used; the message says which."""


def new_private_key():
    return ec.generate_private_key(CURVE)


def public_bytes(private_key):
    """The 65-byte uncompressed public point of ``private_key``."""
    return private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def private_scalar(private_key):
    """The private scalar as 32 big-endian bytes."""
    return private_key.private_numbers().private_value.to_bytes(32, "big")


def private_key_from_scalar(scalar):
    """The private key whose scalar is ``scalar`` (32 bytes); CryptoError if out of range."""
    value = int.from_bytes(bytes(scalar), "big")
    try:
        return ec.derive_private_key(value, CURVE)
    except ValueError as exc:
        raise CryptoError("not a P-256 private key: %s" % exc) from exc


def _public_key(data):
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVE, bytes(data))
    except ValueError as exc:
        raise CryptoError("not a P-256 public key: %s" % exc) from exc


def check_public_key(data):
    """Raise CryptoError unless ``data`` is an uncompressed point on P-256 (65 bytes)."""
    if len(data) != 65 or data[0] != 4:
        raise CryptoError("a public key is a 65-byte uncompressed P-256 point")
    _public_key(data)


def shared_secret(private_key, peer_public):
    """ECDH: the 32-byte x-coordinate shared by ``private_key`` and the peer's point."""
    return private_key.exchange(ec.ECDH(), _public_key(peer_public))


def derive_key(secret, purpose, round_id, a, b):
    """HKDF-SHA256(secret, salt empty, info = key_info(purpose, round, a, b)), 32 bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"",
                info=key_info(purpose, round_id, a, b)).derive(bytes(secret))


def mask_words(key, count):
    """``count`` mask words: AES-256-CTR(key, zero counter) over zero bytes, as uint32."""
    encryptor = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(16))).encryptor()
    stream = encryptor.update(bytes(4 * count)) + encryptor.finalize()
    return np.frombuffer(stream, dtype="<u4").astype(np.uint32)


def seal(key, nonce, plaintext, associated):
    """nonce || AES-256-GCM(key, nonce, plaintext, associated) (ciphertext with its tag)."""
    if len(nonce) != NONCE_BYTES:
        raise CryptoError("the nonce is %d bytes" % NONCE_BYTES)
    return bytes(nonce) + AESGCM(bytes(key)).encrypt(bytes(nonce), bytes(plaintext),
                                                     bytes(associated))


def open_sealed(key, sealed, associated):
    """The plaintext of ``seal``'s output; CryptoError when it was altered or misaddressed."""
    from cryptography.exceptions import InvalidTag
    sealed = bytes(sealed)
    if len(sealed) < NONCE_BYTES + 16:
        raise CryptoError("a sealed share is too short")
    try:
        return AESGCM(bytes(key)).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                          bytes(associated))
    except InvalidTag as exc:
        raise CryptoError("a sealed share failed its authentication") from exc
