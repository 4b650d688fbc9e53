"""Peer-to-peer signalling: the server introduces browsers to each other and relays the few
messages WebRTC needs to connect them; heads then travel between the browsers only.

WebSocket ``/api/peers/socket?federation=<name>`` (flask-sock; not an OpenAPI operation).
The first message is ``hello`` with the client's bearer token from ``POST /api/register``
(in the message, not the URL, so that no access log holds it) and its ECDSA P-256 public
key; the server records the client as online (``fl.peer_store``) and answers ``peers``: its
id and its neighbours with their keys, every other member while the federation has at most
FULL_MESH members, else NEIGHBOURS random ones (each neighbour is told of the newcomer too).
Then ``offer``/``answer``/``candidate`` go to the named peer, ``peers`` swaps one
neighbour, ``bye`` or closing the socket leaves (the others get ``bye``). Message rules:
``fl.signal_messages``. A refused message closes the socket with a 44xx code and a reason.

Several server processes (gunicorn workers): a socket stays on the process that accepted it.
Each process binds a Unix datagram socket in Linux's abstract namespace (its ``hub``
address, stored with each member it holds) and relays a message for a member held
elsewhere to that process; a process that is gone refuses the datagram at once, and its
members are forgotten. Under gunicorn's gthread workers each open socket holds one of a
worker's threads (``fl.gunicorn_conf``: 16 a process).

Counters of messages and bytes per type, received and sent, by this process:
``GET /api/peers/stats``.
"""
import hashlib
import json
import logging
import os
import random
import secrets
import socket
import threading
import time

from apiflask import APIBlueprint
from flask import current_app, request
from flask_sock import Sock

from fl import peer_store, store
from fl.database import writing
from fl.http_errors import ApiError
from fl.schemas import FederationQuery, PeerStats
from fl.service import service
from fl.signal_messages import (
    BAD_MESSAGE,
    MAX_MESSAGE_BYTES,
    NO_HELLO,
    RELAYED,
    TOO_MANY,
    UNAUTHORIZED,
    UNKNOWN_FEDERATION,
    WRONG_FEDERATION,
    SignalError,
    encode_key,
    parse,
    relayed,
)

log = logging.getLogger("fl.signalling")

FULL_MESH = 8          # up to this many members, everyone is everyone's neighbour
NEIGHBOURS = 4         # beyond it, each newcomer gets this many random neighbours
HELLO_SECONDS = 10.0   # a socket that says nothing this long after opening is closed
RATE_WINDOW = 60.0     # at most RATE_LIMIT messages a socket in any such window (seconds)
RATE_LIMIT = 300
PATH = "/api/peers/socket"

peers_api = APIBlueprint("peers", __name__, tag="peer-to-peer")


class Link:
    """One open socket of this process: its client, session and a lock for sending (the
    relay thread and request threads send on it)."""

    def __init__(self, ws, client_id, session):
        self.ws = ws
        self.client_id = client_id
        self.session = session
        self.lock = threading.Lock()

    def send(self, text):
        with self.lock:
            self.ws.send(text)


class Counters:
    """Messages and bytes per federation, direction and type (this process)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_federation = {}

    def add(self, federation, direction, kind, size):
        with self.lock:
            entry = self.by_federation.setdefault(federation, {"received": {}, "sent": {}})
            item = entry[direction].setdefault(kind, {"messages": 0, "bytes": 0})
            item["messages"] += 1
            item["bytes"] += size

    def of(self, federation):
        with self.lock:
            entry = self.by_federation.get(federation, {"received": {}, "sent": {}})
            return json.loads(json.dumps(entry))


class Hub:
    """This process's part of the signalling: its open sockets and its relay address."""

    def __init__(self):
        self.links = {}
        self.lock = threading.Lock()
        self.counters = Counters()
        self.address = None
        self.pid = None
        self.socket = None
        self.random = random.SystemRandom()

    def start(self):
        """Bind the relay socket (once per process: after a fork, a new one)."""
        with self.lock:
            if self.pid == os.getpid():
                return
            self.links = {}
            self.pid = os.getpid()
            name = "tinybert-signal-%d-%s" % (self.pid, secrets.token_hex(6))
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.bind("\0" + name)
            self.socket, self.address = sock, "@" + name
            threading.Thread(target=self._receive, args=(sock,), daemon=True,
                             name="signalling-relay").start()

    def _receive(self, sock):
        while True:
            data = sock.recv(65536)
            if not data:
                continue   # a liveness probe
            try:
                item = json.loads(data)
                self._deliver_local(item["federation"], item["to"], item["session"],
                                    item["message"])
            except (ValueError, KeyError, TypeError):
                log.warning("signalling: a relayed datagram was not understood")

    def _deliver_local(self, federation, client_id, session, message):
        link = self.links.get(client_id)
        if link is None or (session is not None and link.session != session):
            return
        text = json.dumps(message, separators=(",", ":"))
        self.counters.add(federation, "sent", message["type"], len(text.encode("utf-8")))
        try:
            link.send(text)
        except Exception:   # the socket closed meanwhile: its own thread cleans up
            return

    def _relay_to(self, hub):
        return "\0" + hub[1:]

    def alive(self, hub):
        """Whether the process at ``hub`` still receives (a refused datagram: it is gone)."""
        if hub == self.address:
            return True
        try:
            self.socket.sendto(b"", self._relay_to(hub))
            return True
        except OSError:
            return False

    def deliver(self, federation, member, message):
        """Send ``message`` to an online ``member`` (a peer_store row), here or through
        its process. Returns False when that process is gone."""
        if member["hub"] == self.address:
            self._deliver_local(federation, member["client_id"], member["session"], message)
            return True
        data = json.dumps({"federation": federation, "to": member["client_id"],
                           "session": member["session"], "message": message}).encode("utf-8")
        try:
            self.socket.sendto(data, self._relay_to(member["hub"]))
            return True
        except OSError:
            return False


def _hub():
    return current_app.extensions["fl_signalling"]


def _online(hub, conn, federation_id):
    """The federation's online members, after forgetting those of processes that are gone."""
    members = peer_store.online(conn, federation_id)
    gone = {m["hub"] for m in members if not hub.alive(m["hub"])}
    if gone:
        with writing(conn):
            for address in gone:
                peer_store.drop_hub(conn, address)
        members = [m for m in members if m["hub"] not in gone]
    return members


def _entry(member):
    return {"id": member["client_id"], "key": encode_key(member["public_key"])}


class Session:
    """One client's socket from hello to close."""

    def __init__(self, hub, ws, federation, database, clock):
        self.hub = hub
        self.ws = ws
        self.federation = federation
        self.database = database
        self.clock = clock
        self.link = None
        self.member = None
        self.times = []

    def send(self, message):
        text = json.dumps(message, separators=(",", ":"))
        self.hub.counters.add(self.federation["name"], "sent", message["type"],
                              len(text.encode("utf-8")))
        self.link.send(text)

    def receive(self, timeout):
        text = self.ws.receive(timeout=timeout)
        if text is None:
            return None
        now = time.monotonic()
        self.times = [t for t in self.times if t > now - RATE_WINDOW] + [now]
        if len(self.times) > RATE_LIMIT:
            raise SignalError(TOO_MANY, "more than %d messages in %d s" % (RATE_LIMIT,
                                                                           RATE_WINDOW))
        message = parse(text)
        size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
        self.hub.counters.add(self.federation["name"], "received", message["type"], size)
        return message

    def hello(self, message):
        token_hash = hashlib.sha256(message["token"].encode("utf-8")).hexdigest()
        with self.database.connect() as conn:
            client = store.sender_by_token_hash(conn, token_hash)
        if client is None:
            raise SignalError(UNAUTHORIZED, "unknown token: register with POST /api/register")
        if client["federation_id"] != self.federation["id"]:
            raise SignalError(WRONG_FEDERATION, "the token belongs to another federation")
        client_id = int(client["id"])
        session = secrets.token_hex(8)
        self.link = Link(self.ws, client_id, session)
        with self.database.connect() as conn, writing(conn):
            peer_store.join(conn, self.federation["id"], client_id, message["key"],
                            self.hub.address, session, self.clock())
        old = self.hub.links.get(client_id)
        self.hub.links[client_id] = self.link
        if old is not None:
            try:
                old.ws.close(reason=1000, message="replaced by a newer connection")
            except Exception:
                pass
        with self.database.connect() as conn:
            members = _online(self.hub, conn, self.federation["id"])
        self.member = {"client_id": client_id, "public_key": message["key"]}
        others = [m for m in members if m["client_id"] != client_id]
        if len(others) + 1 > FULL_MESH:
            others = self.hub.random.sample(others, NEIGHBOURS)
        self.send({"type": "peers", "you": client_id, "add": [_entry(m) for m in others],
                   "drop": [], "online": len(members)})
        for other in others:
            self.hub.deliver(self.federation["name"], other, {
                "type": "peers", "add": [_entry(self.member)], "drop": []})
        log.info("peer %d joined federation %s (%d neighbours)", client_id,
                 self.federation["name"], len(others))

    def relay(self, message):
        with self.database.connect() as conn:
            target = peer_store.member(conn, self.federation["id"], message["to"])
        if target is None:
            return   # gone meanwhile: the sender hears bye
        self.hub.deliver(self.federation["name"], target, relayed(message,
                                                                  self.link.client_id))

    def refresh(self, message):
        """One new neighbour in place of ``drop``, where the federation exceeds a full mesh."""
        with self.database.connect() as conn:
            members = _online(self.hub, conn, self.federation["id"])
        me = self.link.client_id
        if len(members) <= FULL_MESH:
            return
        known = set(message["have"]) | {me}
        fresh = [m for m in members if m["client_id"] not in known]
        if not fresh:
            return
        chosen = self.hub.random.choice(fresh)
        drop = [message["drop"]] if message["drop"] in message["have"] else []
        self.send({"type": "peers", "add": [_entry(chosen)], "drop": drop,
                   "online": len(members)})
        self.hub.deliver(self.federation["name"], chosen,
                         {"type": "peers", "add": [_entry(self.member)], "drop": []})
        for member in members:
            if member["client_id"] in drop:
                self.hub.deliver(self.federation["name"], member,
                                 {"type": "peers", "add": [], "drop": [me]})

    def leave(self):
        if self.link is None:
            return
        me = self.link.client_id
        if self.hub.links.get(me) is self.link:
            del self.hub.links[me]
        with self.database.connect() as conn:
            with writing(conn):
                removed = peer_store.leave(conn, me, self.link.session)
            members = _online(self.hub, conn, self.federation["id"]) if removed else []
        if not removed:
            return   # a newer socket of the same client took over
        for member in members:
            self.hub.deliver(self.federation["name"], member, {"type": "bye", "from": me})
        log.info("peer %d left federation %s", me, self.federation["name"])

    def run(self):
        first = self.receive(HELLO_SECONDS)
        if first is None:
            raise SignalError(NO_HELLO, "send hello first, within %d s" % HELLO_SECONDS)
        if first["type"] != "hello":
            raise SignalError(BAD_MESSAGE, "the first message must be hello")
        self.hello(first)
        while True:
            message = self.receive(None)
            if message is None or message["type"] == "bye":
                return
            if message["type"] == "hello":
                raise SignalError(BAD_MESSAGE, "hello only once")
            if message["type"] in RELAYED:
                self.relay(message)
            elif message["type"] == "peers":
                self.refresh(message)


def socket_route(ws):
    """The signalling WebSocket of one client (see the module's docstring)."""
    hub = _hub()
    hub.start()
    svc = service()
    svc.ensure_ready()
    name = request.args.get("federation", "default")
    with svc.database.connect() as conn:
        federation = store.federation_by_name(conn, name)
    session = None
    try:
        if federation is None:
            raise SignalError(UNKNOWN_FEDERATION, "no federation called %r" % name[:60])
        session = Session(hub, ws, federation, svc.database, svc.settings.clock)
        session.run()
    except SignalError as refusal:
        log.info("signalling: closed a socket (%d): %s", refusal.code, refusal)
        try:
            ws.close(reason=refusal.code, message=str(refusal)[:120])
        except Exception:
            pass
    finally:
        if session is not None:
            session.leave()


@peers_api.get("/peers/stats")
@peers_api.input(FederationQuery, location="query")
@peers_api.output(PeerStats)
@peers_api.doc(responses={404: {"description": "no such federation", "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/HTTPError"}}}}})
def stats(query_data):
    """Peer-to-peer signalling of a federation: members online, and the messages and bytes
    per type this server process received from and sent to peers (the WebSocket
    ``/api/peers/socket`` carries them; see the README)."""
    svc = service()
    conn = svc.connection()
    federation = store.federation_by_name(conn, query_data.federation)
    if federation is None:
        raise ApiError(404, "unknown_federation", "no federation called %r"
                       % (query_data.federation,))
    counts = _hub().counters.of(federation["name"])
    return {"federation": federation["name"], "process": os.getpid(),
            "online": len(peer_store.online(conn, federation["id"])),
            "received": counts["received"], "sent": counts["sent"],
            "max_message_bytes": MAX_MESSAGE_BYTES}


def init_signalling(app):
    """Add the signalling WebSocket and ``GET /api/peers/stats`` to ``app``."""
    app.extensions["fl_signalling"] = Hub()
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": MAX_MESSAGE_BYTES,
                                                  "ping_interval": 25})
    # A WebSocket is no OpenAPI operation: the route stays out of /api/openapi.json.
    Sock(app).route(PATH)(app.doc(hide=True)(socket_route))
    app.register_blueprint(peers_api, url_prefix="/api")
    return app
