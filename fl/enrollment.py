"""Who may join a federation: open or invite-only enrollment, invite codes, revoked clients.

A federation's ``enrollment`` is ``open`` (anyone who reaches the server may register, the
behaviour of the page's demo federation) or ``invite`` (registering needs an invite code).
An invite belongs to one federation, is kept only as its sha256 (the code is shown once, when
made), may be used ``max_uses`` times (None: any number) until ``expires_at`` (None: never)
and may be revoked; a client remembers the invite it registered with (``clients.invite_id``),
so that a secure round can refuse a cohort dominated by one invite (``fl.secure_rounds``).

Revoking a client refuses its token from then on (401) and discards the update it sent to
its federation's live plain round, under the federation's lock, so that no round aggregates
it (``fl.store.insert_update`` also refuses an update of a revoked client, whatever a
process's cache of tokens still holds). A secure round's revoked member becomes a dropout.

Functions take a Connection; those that write open their own transaction. Refusals of a
registration are ``fl.refusals.Refusal`` with the reasons below (403, ``fl.http_errors``).
"""
import hashlib
import secrets

from sqlalchemy import delete, func, insert, select, update

from fl import store
from fl.database import writing
from fl.refusals import Refusal
from fl.tables import LIVE_SQL, clients, federations, invites, rounds, updates

ENROLLMENTS = ("open", "invite")

INVITE_REQUIRED = "invite_required"
INVITE_UNKNOWN = "invite_unknown"
INVITE_WRONG_FEDERATION = "invite_wrong_federation"
INVITE_EXPIRED = "invite_expired"
INVITE_USED_UP = "invite_used_up"
INVITE_REVOKED = "invite_revoked"
REASONS = (INVITE_REQUIRED, INVITE_UNKNOWN, INVITE_WRONG_FEDERATION, INVITE_EXPIRED,
           INVITE_USED_UP, INVITE_REVOKED)


def check_enrollment(value):
    """``value`` if it is an enrollment; raises ValueError listing the allowed ones."""
    if value not in ENROLLMENTS:
        raise ValueError("unknown enrollment %r; allowed: %s" % (value, ", ".join(ENROLLMENTS)))
    return value


def code_hash(code):
    """The sha256 (hex) under which an invite code is stored."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def create_invite(conn, federation_id, now, max_uses=1, expires_at=None, note=None):
    """A new invite of the federation: returns ``(invite id, code)``; the code is not kept.

    max_uses: registrations it allows (None: any number); expires_at: seconds since the epoch
    after which it is refused (None: never). Raises ValueError on max_uses < 1."""
    if max_uses is not None and int(max_uses) < 1:
        raise ValueError("an invite allows at least one registration (or any number: None)")
    code = secrets.token_urlsafe(18)
    with writing(conn):
        invite_id = conn.execute(insert(invites).values(
            federation_id=federation_id, code_hash=code_hash(code), max_uses=max_uses,
            uses=0, expires_at=expires_at, note=note, created_at=now)
            .returning(invites.c.id)).scalar()
    return int(invite_id), code


def revoke_invite(conn, invite_id, now):
    """Refuse the invite from now on (clients it admitted stay). Returns whether it existed."""
    with writing(conn):
        result = conn.execute(update(invites).where(invites.c.id == invite_id)
                              .values(revoked_at=func.coalesce(invites.c.revoked_at, now)))
    return result.rowcount > 0


def list_invites(conn, federation_id):
    """The federation's invites, oldest first, as dicts (never a code)."""
    return [row._asdict() for row in conn.execute(
        select(invites.c.id, invites.c.max_uses, invites.c.uses, invites.c.expires_at,
               invites.c.revoked_at, invites.c.note, invites.c.created_at)
        .where(invites.c.federation_id == federation_id).order_by(invites.c.id))]


def _refuse(reason, detail):
    raise Refusal(reason, detail)


def _redeem(conn, fed, code, now):
    """Use one registration of invite ``code`` for ``fed`` (inside the caller's
    transaction); returns its id. Raises Refusal saying what is wrong with it."""
    row = conn.execute(select(invites).where(invites.c.code_hash == code_hash(code))
                       .with_for_update()).first()
    if row is None:
        _refuse(INVITE_UNKNOWN, "no such invite code: ask the federation's operator for one")
    if row.federation_id != fed["id"]:
        _refuse(INVITE_WRONG_FEDERATION, "this invite code is for another federation, not %r"
                % fed["name"])
    if row.revoked_at is not None:
        _refuse(INVITE_REVOKED, "this invite code was revoked by the operator")
    if row.expires_at is not None and row.expires_at <= now:
        _refuse(INVITE_EXPIRED, "this invite code expired; ask the operator for a new one")
    if row.max_uses is not None and row.uses >= row.max_uses:
        _refuse(INVITE_USED_UP, "this invite code was already used %d time%s, all it allows"
                % (row.max_uses, "" if row.max_uses == 1 else "s"))
    conn.execute(update(invites).where(invites.c.id == row.id).values(uses=invites.c.uses + 1))
    return int(row.id)


def register(conn, fed, token_hash, invite_code, now):
    """A new client of ``fed`` with this token hash; returns its id.

    invite_code: needed by an invite federation; an open one takes a client without one (a
    code given to an open federation is checked and counted all the same). Raises Refusal
    (nothing written) if the code is missing, unknown, for another federation, revoked,
    expired or used up."""
    with writing(conn):
        invite_id = None
        if invite_code:
            invite_id = _redeem(conn, fed, invite_code, now)
        elif fed["enrollment"] == "invite":
            _refuse(INVITE_REQUIRED, "federation %r takes members by invite only: register"
                    " with {\"invite\": \"<code>\"}" % fed["name"])
        return store.insert_client(conn, fed["id"], token_hash, now, invite_id)


def revoke_client(conn, client_id, now):
    """Revoke a client: its token is refused from now on and the update it sent to its
    federation's live plain round is discarded. Returns ``{"client", "discarded"}`` (the
    number of updates discarded), or None for an unknown client."""
    with writing(conn):
        row = conn.execute(select(clients).where(clients.c.id == client_id)).first()
        if row is None:
            return None
        store.federation_by_id(conn, row.federation_id, lock=True)   # rounds wait for it
        conn.execute(update(clients).where(clients.c.id == client_id)
                     .values(revoked_at=func.coalesce(clients.c.revoked_at, now)))
        live = select(rounds.c.id).where(rounds.c.federation_id == row.federation_id,
                                         rounds.c.status.in_(LIVE_SQL))
        discarded = conn.execute(delete(updates).where(
            updates.c.client_id == client_id, updates.c.round_id.in_(live))).rowcount
    return {"client": int(client_id), "discarded": int(discarded)}


def list_clients(conn, federation_id):
    """The federation's clients, oldest first: id, created_at, invite_id, revoked_at."""
    return [row._asdict() for row in conn.execute(
        select(clients.c.id, clients.c.created_at, clients.c.invite_id, clients.c.revoked_at)
        .where(clients.c.federation_id == federation_id).order_by(clients.c.id))]


def set_enrollment(conn, federation_id, enrollment):
    """Set a federation's enrollment (``open`` or ``invite``)."""
    check_enrollment(enrollment)
    with writing(conn):
        conn.execute(update(federations).where(federations.c.id == federation_id)
                     .values(enrollment=enrollment))
