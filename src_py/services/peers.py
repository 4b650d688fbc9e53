"""The page's peer-to-peer transport: the only module that touches WebSocket and
RTCPeerConnection.

The server's signalling socket (``/api/peers/socket``, see ``fl.signalling``) names this
page's neighbours and their public keys and relays the offers, answers and ICE candidates
that connect them; then one ordered RTCDataChannel per neighbour carries what the pages send
each other (the server sees none of it). Rules that measurements on Chromium asked for:

- signalling messages are handled strictly one after another (a promise chain): run
  concurrently, ``addIceCandidate`` came before ``setRemoteDescription`` and connections
  failed;
- of two neighbours the lower id offers, so offers never collide; the offerer tries again
  (a fresh connection, the next ``attempt``) when the channel is not open within
  CONNECT_TIMEOUT_MS or fails, PEER_RETRIES times;
- a channel whose ``bufferedAmount`` exceeds MAX_BUFFERED is skipped rather than queued to;
  messages are at most MAX_MESSAGE bytes (Chromium's data channels refuse > 256 KiB);
- a neighbour whose channel closed is dropped LOST_DROP_MS later unless it comes back, at once
  when the server says ``bye``;
- each neighbour may send at most RATE_BURST messages, refilled at RATE_PER_SECOND; more are
  dropped and counted.
"""
from services.errors import AppError, describe
from settings import (
    CONNECT_TIMEOUT_MS,
    ICE_SERVERS,
    LOST_DROP_MS,
    MAX_BUFFERED,
    MAX_MESSAGE,
    PEER_RATE_BURST,
    PEER_RATE_PER_SECOND,
    PEER_RETRIES,
    SIGNAL_PATH,
)
from tinybert_core.binary import base64_decode


def _now():
    return performance.now()


def socket_url(api_base, federation):
    """The signalling socket's ws:// or wss:// URL for ``federation``."""
    url = __new__(URL(api_base + SIGNAL_PATH, window.location.href))
    url.protocol = "wss:" if url.protocol == "https:" else "ws:"
    url.search = "?federation=" + encodeURIComponent(federation)
    return url.href


class Link:
    """One neighbour: its public key and the connection to it."""

    def __init__(self, peer_id, key):
        self.id = peer_id
        self.key = key
        self.pc = None
        self.channel = None
        self.state = "new"
        self.attempt = 0
        self.started = None
        self.connect_ms = None
        self.lost_since = None
        self.last_exchange = None
        self.tokens = PEER_RATE_BURST
        self.refill = _now()
        self.dropped = 0
        self.timer = None

    def info(self):
        return {"id": self.id, "state": self.state, "connect_ms": self.connect_ms,
                "attempts": self.attempt + 1, "last_exchange": self.last_exchange,
                "rate_dropped": self.dropped}


class PeerNetwork:
    """This page's neighbours in one federation.

    url: the signalling socket (``socket_url``); hello: ``{"token", "key"}`` (the bearer token
    and the base64 public key); on_message(peer_id, data): called with each message a
    neighbour sends (an ArrayBuffer, or a string); on_change(): when neighbours come or go.
    """

    def __init__(self, url, hello, on_message, on_change):
        self.url = url
        self.hello = hello
        self.on_message = on_message
        self.on_change = on_change
        self.me = None
        self.online = 0
        self.links = {}
        self.ids = []
        self.chain = Promise.resolve(None)
        self.socket = None
        self.closed = False
        self.sweeper = None

    # --- the signalling socket ---------------------------------------------------------------
    def open(self):
        """Connect and say hello; resolves once the server named this page's neighbours,
        rejects (AppError) when the server refuses or cannot be reached."""
        def start(resolve, reject):
            socket = __new__(WebSocket(self.url))
            self.socket = socket
            state = {"welcomed": False}

            def opened(event):
                socket.send(JSON.stringify({"type": "hello", "token": self.hello["token"],
                                            "key": self.hello["key"]}))

            def message(event):
                data = JSON.parse(event.data)
                if not state["welcomed"] and data["type"] == "peers":
                    state["welcomed"] = True
                    self.me = data["you"]
                    resolve(self.me)
                self.chain = self.chain.then(lambda ignored: self._handle(data)).catch(
                    lambda error: console.warn("peer signalling: " + describe(error)))

            def closed(event):
                if not state["welcomed"]:
                    reject(AppError("The federation server refused peer-to-peer signalling ("
                                    + str(event.code) + " " + (event.reason or "no reason")
                                    + ")."))
                elif not self.closed:
                    console.warn("peer signalling closed: " + str(event.code))
                return None

            socket.onopen = opened
            socket.onmessage = message
            socket.onclose = closed
            socket.onerror = lambda event: None   # onclose follows with the code

        self.sweeper = setInterval(lambda: self._sweep(), 1000)
        return __new__(Promise(start))

    def _signal(self, message):
        if self.socket is not None and self.socket.readyState == 1:
            self.socket.send(JSON.stringify(message))
        return None

    async def _handle(self, data):
        kind = data["type"]
        if kind == "peers":
            self.online = data["online"] if data["online"] else self.online
            for entry in data["add"]:
                self._add(entry["id"], base64_decode(entry["key"]))
            for gone in data["drop"]:
                self._remove(gone)
        elif kind == "bye":
            self._remove(data["from"])
        elif kind == "offer":
            await self._on_offer(data)
        elif kind == "answer":
            link = self._link(data["from"])
            if link is not None and link.pc is not None and data["attempt"] == link.attempt:
                await link.pc.setRemoteDescription({"type": "answer", "sdp": data["sdp"]})
        elif kind == "candidate":
            link = self._link(data["from"])
            if link is not None and link.pc is not None and data["attempt"] == link.attempt \
                    and data["candidate"] is not None:
                await link.pc.addIceCandidate(data["candidate"])
        return None

    # --- neighbours --------------------------------------------------------------------------
    def _link(self, peer_id):
        key = str(peer_id)
        return self.links[key] if key in self.links else None

    def _add(self, peer_id, key):
        if peer_id == self.me or self._link(peer_id) is not None:
            return None
        link = Link(peer_id, key)
        self.links[str(peer_id)] = link
        self.ids.append(peer_id)
        if self.me < peer_id:
            self._connect(link, 0)
        self.on_change()
        return None

    def _remove(self, peer_id):
        link = self._link(peer_id)
        if link is None:
            return None
        self._close_link(link)
        del self.links[str(peer_id)]
        self.ids = [i for i in self.ids if i != peer_id]
        self.on_change()
        return None

    def _close_link(self, link):
        if link.timer is not None:
            clearTimeout(link.timer)
            link.timer = None
        if link.pc is not None:
            try:
                link.pc.close()
            except:  # noqa: E722 - already closed
                pass
        link.pc = None
        link.channel = None
        return None

    def _new_connection(self, link):
        self._close_link(link)
        pc = __new__(RTCPeerConnection({"iceServers": ICE_SERVERS}))
        link.pc = pc
        link.state = "connecting"
        if link.started is None:
            link.started = _now()
        attempt = link.attempt

        def candidate(event):
            if link.pc is pc and event.candidate:
                self._signal({"type": "candidate", "to": link.id, "attempt": attempt,
                              "candidate": event.candidate.toJSON()})

        def state_changed(event):
            if link.pc is pc and (pc.connectionState == "failed"
                                  or pc.connectionState == "closed"):
                self._lost(link)

        pc.onicecandidate = candidate
        pc.onconnectionstatechange = state_changed
        pc.ondatachannel = lambda event: self._use_channel(link, pc, event.channel)
        return pc

    async def _connect_async(self, link):
        pc = self._new_connection(link)
        self._use_channel(link, pc, pc.createDataChannel("gossip", {"ordered": True}))
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        self._signal({"type": "offer", "to": link.id, "sdp": pc.localDescription.sdp,
                      "attempt": link.attempt})
        return None

    def _connect(self, link, attempt):
        """Offer a connection to ``link`` (this page has the lower id); retried on timeout."""
        link.attempt = attempt
        self._connect_async(link).catch(lambda error: self._lost(link))
        link.timer = setTimeout(lambda: self._check_open(link, attempt), CONNECT_TIMEOUT_MS)
        return None

    def _check_open(self, link, attempt):
        link.timer = None
        if self._link(link.id) is link and link.attempt == attempt and link.state != "open":
            self._lost(link)
        return None

    async def _on_offer(self, data):
        link = self._link(data["from"])
        if link is None or self.me < link.id:
            return None   # not a neighbour (yet), or an offer against the rule
        link.attempt = data["attempt"]
        link.lost_since = None
        pc = self._new_connection(link)
        await pc.setRemoteDescription({"type": "offer", "sdp": data["sdp"]})
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
        self._signal({"type": "answer", "to": link.id, "sdp": pc.localDescription.sdp,
                      "attempt": link.attempt})
        return None

    def _use_channel(self, link, pc, channel):
        channel.binaryType = "arraybuffer"

        def opened(event):
            if link.pc is not pc:
                return None
            link.channel = channel
            link.state = "open"
            link.lost_since = None
            link.connect_ms = _now() - link.started
            self.on_change()
            return None

        def closed(event):
            if link.pc is pc:
                self._lost(link)

        channel.onopen = opened
        channel.onclose = closed
        channel.onmessage = lambda event: self._receive(link, event.data)
        return None

    def _lost(self, link):
        """The channel closed or never opened: retry (offerer) or wait LOST_DROP_MS."""
        if self._link(link.id) is not link or self.closed:
            return None
        was_open = link.state == "open"
        self._close_link(link)
        link.state = "lost"
        if link.lost_since is None:
            link.lost_since = _now()
        if self.me < link.id and link.attempt < PEER_RETRIES:
            link.started = None if was_open else link.started
            self._connect(link, link.attempt + 1)
        self.on_change()
        return None

    def _sweep(self):
        now = _now()
        for peer_id in self.ids:
            link = self._link(peer_id)
            if link is not None and link.state != "open" and link.lost_since is not None \
                    and link.timer is None and now - link.lost_since > LOST_DROP_MS:
                self._remove(peer_id)
        return None

    # --- messages between pages ----------------------------------------------------------------
    def _receive(self, link, data):
        now = _now()
        link.tokens = min(PEER_RATE_BURST,
                          link.tokens + (now - link.refill) * PEER_RATE_PER_SECOND / 1000)
        link.refill = now
        if link.tokens < 1:
            link.dropped += 1
            return None
        link.tokens -= 1
        link.last_exchange = __new__(Date()).toISOString()
        self.on_message(link.id, data)
        return None

    def send(self, peer_id, data):
        """Send ``data`` (bytes or text) to a neighbour; False when its channel is not open,
        is backed up beyond MAX_BUFFERED, or the message is too large."""
        link = self._link(peer_id)
        if link is None or link.channel is None or link.channel.readyState != "open":
            return False
        if link.channel.bufferedAmount > MAX_BUFFERED or len(data) > MAX_MESSAGE:
            return False
        try:
            link.channel.send(data)
        except:  # noqa: E722 - closed meanwhile
            return False
        link.last_exchange = __new__(Date()).toISOString()
        return True

    def open_ids(self):
        """Ids of the neighbours whose channel is open."""
        out = []
        for peer_id in self.ids:
            link = self._link(peer_id)
            if link is not None and link.state == "open":
                out.append(peer_id)
        return out

    def key_of(self, peer_id):
        link = self._link(peer_id)
        return None if link is None else link.key

    def infos(self):
        return [self._link(peer_id).info() for peer_id in self.ids]

    def refresh(self, drop):
        """Ask the server for a new neighbour in place of ``drop`` (beyond a full mesh)."""
        self._signal({"type": "peers", "have": [i for i in self.ids], "drop": drop})
        return None

    def close(self):
        """Say bye, close every connection and the socket."""
        self.closed = True
        if self.sweeper is not None:
            clearInterval(self.sweeper)
        self._signal({"type": "bye"})
        for peer_id in self.ids:
            self._close_link(self._link(peer_id))
        self.links = {}
        self.ids = []
        if self.socket is not None:
            self.socket.close()
        return None
