"""The page's cryptography, through WebCrypto: the same primitives and bytes as the server's
``fl.secagg_crypto`` (tested against it on fixed keys).

- ECDH on P-256 for secure aggregation's two key pairs; public keys as 65-byte uncompressed
  points, a mask private key also as its 32-byte scalar (the JWK's ``d``) for Shamir sharing;
- HKDF-SHA256 with an empty salt and ``tinybert_core.secagg.key_info`` as ``info``;
- AES-256-CTR from a zero counter over zero bytes for masks (little-endian u32 words);
- AES-256-GCM with a 12-byte nonce for relayed shares (nonce || ciphertext || tag);
- ECDSA P-256 / SHA-256 signatures (64 bytes, r || s) for gossip frames;
- random bytes from ``crypto.getRandomValues``.

Every function is async (WebCrypto answers with promises) and takes and returns Uint8Arrays.
"""
from tinybert_core.secagg import words_from_bytes

ECDH = {"name": "ECDH", "namedCurve": "P-256"}
ECDSA = {"name": "ECDSA", "namedCurve": "P-256"}
NONCE_BYTES = 12
RANDOM_CHUNK = 65536   # getRandomValues fills at most this many bytes a call


def random_bytes(n):
    """``n`` bytes from the browser's cryptographic generator."""
    out = __new__(Uint8Array(n))
    start = 0
    while start < n:
        stop = min(start + RANDOM_CHUNK, n)
        crypto.getRandomValues(out.subarray(start, stop))
        start = stop
    return out


def _bytes(buffer):
    return __new__(Uint8Array(buffer))


def _from_base64url(text):
    padded = text.replace(__new__(RegExp("-", "g")), "+").replace(__new__(RegExp("_", "g")), "/")
    while len(padded) % 4 != 0:
        padded = padded + "="
    raw = atob(padded)
    out = __new__(Uint8Array(len(raw)))
    for i in range(len(raw)):
        out[i] = raw.charCodeAt(i)
    return out


async def new_ecdh_key():
    """A new ECDH key pair whose private half can be exported (for Shamir sharing)."""
    return await crypto.subtle.generateKey(ECDH, True, ["deriveBits"])


async def public_raw(key_pair):
    """The 65-byte uncompressed public point of ``key_pair``."""
    return _bytes(await crypto.subtle.exportKey("raw", key_pair.publicKey))


async def private_scalar(key_pair):
    """The private scalar of ``key_pair`` as 32 big-endian bytes."""
    jwk = await crypto.subtle.exportKey("jwk", key_pair.privateKey)
    return _from_base64url(jwk.d)


async def _public_key(raw, algorithm, usages):
    return await crypto.subtle.importKey("raw", raw, algorithm, False, usages)


async def shared_secret(key_pair, peer_raw):
    """ECDH: the 32-byte x-coordinate that ``key_pair`` shares with the peer's point."""
    peer = await _public_key(peer_raw, ECDH, [])
    return _bytes(await crypto.subtle.deriveBits({"name": "ECDH", "public": peer},
                                                 key_pair.privateKey, 256))


async def derive_key(secret, info):
    """HKDF-SHA256(secret, salt empty, info): 32 bytes."""
    base = await crypto.subtle.importKey("raw", secret, "HKDF", False, ["deriveBits"])
    params = {"name": "HKDF", "hash": "SHA-256", "salt": __new__(Uint8Array(0)), "info": info}
    return _bytes(await crypto.subtle.deriveBits(params, base, 256))


async def mask_words(key, count):
    """``count`` mask words: AES-256-CTR(key, zero counter) over zero bytes."""
    aes = await crypto.subtle.importKey("raw", key, "AES-CTR", False, ["encrypt"])
    params = {"name": "AES-CTR", "counter": __new__(Uint8Array(16)), "length": 64}
    stream = await crypto.subtle.encrypt(params, aes, __new__(Uint8Array(4 * count)))
    return words_from_bytes(_bytes(stream), count)


async def seal(key, nonce, plaintext, associated):
    """nonce || AES-256-GCM(key, nonce, plaintext, associated data) with its 16-byte tag."""
    aes = await crypto.subtle.importKey("raw", key, "AES-GCM", False, ["encrypt"])
    params = {"name": "AES-GCM", "iv": nonce, "additionalData": associated}
    body = _bytes(await crypto.subtle.encrypt(params, aes, plaintext))
    out = __new__(Uint8Array(NONCE_BYTES + len(body)))
    out.set(nonce, 0)
    out.set(body, NONCE_BYTES)
    return out


async def open_sealed(key, sealed, associated):
    """The plaintext of ``seal``'s output; rejects when it was altered or misaddressed."""
    aes = await crypto.subtle.importKey("raw", key, "AES-GCM", False, ["decrypt"])
    params = {"name": "AES-GCM", "iv": sealed.subarray(0, NONCE_BYTES),
              "additionalData": associated}
    return _bytes(await crypto.subtle.decrypt(params, aes, sealed.subarray(NONCE_BYTES)))


async def new_signing_key():
    """A new ECDSA P-256 key pair (the private half never leaves WebCrypto)."""
    return await crypto.subtle.generateKey(ECDSA, False, ["sign", "verify"])


async def signing_public_raw(key_pair):
    return _bytes(await crypto.subtle.exportKey("raw", key_pair.publicKey))


async def sign(key_pair, data):
    """The 64-byte ECDSA P-256 / SHA-256 signature (r || s) of ``data``."""
    params = {"name": "ECDSA", "hash": "SHA-256"}
    return _bytes(await crypto.subtle.sign(params, key_pair.privateKey, data))


async def verify(point, signature, data):
    """Whether ``signature`` is the signature of ``data`` by the key whose public point is
    ``point`` (65 bytes); False for a malformed key or signature."""
    try:
        key = await _public_key(point, ECDSA, ["verify"])
        params = {"name": "ECDSA", "hash": "SHA-256"}
        return await crypto.subtle.verify(params, key, signature, data)
    except:  # noqa: E722 - WebCrypto throws DOMExceptions for malformed input
        return False
