"""The model file on this device: downloaded once with progress, checked against the manifest's
sha256, kept in the Cache API so that the next visit starts without downloading.

The hash is computed while the session is built from the same bytes (WebCrypto works off the
page's thread), so checking costs no start-up time; bytes that fail the check are never used.
A download is written into the cache as it arrives (a second branch of the body stream, so the
page holds one copy of the file, not two) and deleted again when the check fails. A cache
entry whose bytes do not match the manifest (corrupted, or left by an older build) is deleted
and fetched again.
"""
from services.assets import fetch_model_file
from services.errors import AppError, describe
from settings import DOWNLOAD_YIELD_MS, MODEL_BASE, MODEL_CACHE_NAME


async def sha256_hex(data):
    """Return the lowercase hex SHA-256 of a Uint8Array."""
    digest = __new__(Uint8Array(await crypto.subtle.digest("SHA-256", data)))
    parts = []
    for i in range(len(digest)):
        parts.append(("0" + digest[i].toString(16)).slice(-2))
    return "".join(parts)


async def _open_cache():
    if typeof(caches) == "undefined":
        return None
    try:
        return await caches.open(MODEL_CACHE_NAME)
    except:  # noqa: E722 - storage may be disabled (private mode, policy)
        return None


def _cache_key(url, sha):
    return url + "?sha256=" + sha


async def _forget_other_versions(cache, url, keep):
    requests = await cache.js_keys()
    for request in requests:
        if request.url.indexOf(url + "?sha256=") >= 0 and request.url.indexOf(keep) < 0:
            await cache.delete(request)
    return None


def _next_task():
    """A promise settled by a new task, so that the page's other work gets a turn."""
    return __new__(Promise(lambda resolve: setTimeout(resolve, 0)))


async def _download(name, size, on_progress, store):
    """Fetch ``model/<name>`` reading the body in chunks, calling ``on_progress(received, total)``.

    store(response) or None: given a second copy of the body as a stream (``tee``), to write
    into the cache while it arrives; the page then never holds a second copy of the file.
    Chunks already buffered are read without leaving the microtask queue, so on a fast link
    the loop would hold the thread until the download ends (onnxruntime-web's own WebAssembly
    request would wait for it): it lets other tasks run every few milliseconds.
    Returns ``{"data": Uint8Array, "stored": promise of store's result (or None)}``.
    """
    response = await fetch_model_file(name, {"cache": "no-store"})
    total = int(response.headers.js_get("content-length") or size)
    body = response.body
    stored = None
    if store is not None:
        branches = body.tee()
        body = branches[0]
        stored = store(__new__(Response(branches[1])))
    data = __new__(Uint8Array(total))
    received = 0
    reader = body.getReader()
    turn = performance.now()
    while True:
        if performance.now() - turn > DOWNLOAD_YIELD_MS:
            await _next_task()
            turn = performance.now()
        chunk = await reader.read()
        if chunk.done:
            break
        if received + len(chunk.value) > len(data):
            grown = __new__(Uint8Array(max(len(data) * 2, received + len(chunk.value))))
            grown.set(data)
            data = grown
        data.set(chunk.value, received)
        received += len(chunk.value)
        on_progress(received, total)
    return {"data": data.subarray(0, received), "stored": stored}


async def _discard(discard, value):
    try:
        await discard(value)
    except:  # noqa: E722 - releasing is best effort; the real error is reported by the caller
        console.warn("Could not release a model built from bad bytes: " + describe(__except0__))
    return None


async def _put(cache, key, response):
    """Write ``response`` (streamed) under ``key``; True when it was stored (a full quota only
    costs the next visit a download)."""
    try:
        await cache.put(key, response)
    except:  # noqa: E722
        console.warn("Model not cached: " + describe(__except0__))
        return False
    return True


async def _keep_or_drop(cache, url, sha, stored, matches):
    """After the hash check: keep the streamed cache entry (and forget older versions) when the
    bytes matched the manifest, else delete it, so that unchecked bytes never stay cached."""
    if cache is None or stored is None:
        return None
    if await stored:
        if matches:
            await _forget_other_versions(cache, url, sha)
        else:
            await cache.delete(_cache_key(url, sha))
    return None


async def load_model_file(name, expected, on_progress, build, discard):
    """Build something from the model file ``model/<name>`` checked against the manifest.

    expected: the manifest's ``{"sha256": hex, "bytes": n}`` for this file.
    on_progress(received, total) is called while downloading.
    build(bytes) -> promise of the value made from the bytes (the encoder session). It runs
    while the bytes are hashed, so the check costs no time when it passes; when it fails, the
    value is handed to discard(value) and never returned.
    Returns ``{"value": build's result, "source": "cache" | "network", "cached": a promise
    settled once the downloaded file is in the cache}``.
    Raises AppError when the file is missing or does not match the manifest; whatever build
    raises (bytes that match the manifest but cannot be used) is passed on.
    """
    sha = expected["sha256"]
    url = MODEL_BASE + name
    cache = await _open_cache()
    if cache is not None:
        hit = await cache.match(_cache_key(url, sha))
        if hit:
            data = __new__(Uint8Array(await hit.arrayBuffer()))
            digest = sha256_hex(data)   # WebCrypto hashes off the page's thread
            try:
                value = await build(data)
            except:  # noqa: E722 - damaged bytes may not even build: judge them by their hash
                if (await digest) == sha:
                    raise
                value = None
            if (await digest) == sha:
                on_progress(len(data), len(data))
                return {"value": value, "source": "cache", "cached": Promise.resolve(None)}
            if value is not None:
                await _discard(discard, value)
            await cache.delete(_cache_key(url, sha))
    store = None
    if cache is not None:
        def store(response):
            return _put(cache, _cache_key(url, sha), response)
    downloaded = await _download(name, expected["bytes"], on_progress, store)
    data = downloaded["data"]
    digest = sha256_hex(data)
    try:
        value = await build(data)
    except:  # noqa: E722
        if (await digest) == sha:
            _keep_or_drop(cache, url, sha, downloaded["stored"], True)
            raise
        value = None
    actual = await digest
    # Checked bytes: the cache write finishes in the background (the page need not wait for
    # the disk); bad bytes: their entry is deleted before the error is reported.
    finishing = _keep_or_drop(cache, url, sha, downloaded["stored"], actual == sha)
    if actual != sha:
        await finishing
        if value is not None:
            await _discard(discard, value)
        raise AppError("The downloaded " + url + " does not match the model manifest (sha256 "
                       + actual[:12] + "… instead of " + sha[:12] + "…). Rebuild it with "
                       + "`make model` and reload the page.")
    return {"value": value, "source": "network", "cached": finishing}
