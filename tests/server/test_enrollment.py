"""Enrollment (fl.enrollment): an invite federation takes members only with a valid invite
code (missing, unknown, another federation's, expired, used up or revoked codes are refused
with 403 and a code saying which); an open one takes anyone; a revoked token is refused with
401 and its update in the live plain round is discarded, also when a process still holds it
in its cache; a secure round refuses more members of one invite than its share allows."""
import numpy as np

from fl import create_app, enrollment, store
from fl.auth import token_hash
from tests.support.fl_client import Clock, Participant
from tests.support.secure_member import SecureMember

TINY = {"name": "tiny", "labels": ["yes", "no"], "dim": 2, "encoder": "e", "hidden_size": 2}
CLUB = dict(TINY, name="club", enrollment="invite")
CLOCK_START = 1_000_000.0


def make_app(database, **config):
    federations = [dict(name="default", labels=["Dev", "Meeting", "Email"], dim=384,
                        encoder="sentence-transformers/all-MiniLM-L6-v2", hidden_size=384),
                   CLUB, dict(CLUB, name="other")]
    return create_app({"TESTING": True, "MIN_UPDATES": 3, "FEDERATION_MODE": "plain",
                       "CLOCK": Clock(CLOCK_START), "FEDERATIONS": federations,
                       **database, **config})


def invite(app, federation, **options):
    svc = app.extensions["fl"]
    svc.ensure_ready()
    with svc.database.connect() as conn:
        fed = store.federation_by_name(conn, federation)
        return enrollment.create_invite(conn, fed["id"], svc.settings.clock(), **options)[1]


def register(http, federation, code=None):
    body = {"federation": federation}
    if code is not None:
        body["invite"] = code
    return http.post("/api/register", json=body)


def test_invites_are_refused_when_missing_unknown_foreign_expired_used_or_revoked(database):
    app = make_app(database)
    http = app.test_client()
    clock = app.config["CLOCK"]
    assert http.get("/api/federation?federation=club").get_json()["enrollment"] == "invite"
    assert http.get("/api/federation").get_json()["enrollment"] == "open"

    def refused(answer, code):
        assert answer.status_code == 403, answer.get_json()
        assert answer.get_json()["error"] == code
        return answer.get_json()["detail"]

    assert "invite only" in refused(register(http, "club"), "invite_required")
    refused(register(http, "club", "not-a-code"), "invite_unknown")
    refused(register(http, "club", invite(app, "other")), "invite_wrong_federation")
    once = invite(app, "club")
    assert register(http, "club", once).status_code == 201
    refused(register(http, "club", once), "invite_used_up")
    expiring = invite(app, "club", max_uses=None, expires_at=clock.now + 60)
    assert register(http, "club", expiring).status_code == 201
    clock.now += 61
    refused(register(http, "club", expiring), "invite_expired")
    several = invite(app, "club", max_uses=3)
    assert register(http, "club", several).status_code == 201
    svc = app.extensions["fl"]
    with svc.database.connect() as conn:
        fed = store.federation_by_name(conn, "club")
        listed = enrollment.list_invites(conn, fed["id"])
        assert [i["uses"] for i in listed] == [1, 1, 1]
        assert enrollment.revoke_invite(conn, listed[-1]["id"], clock.now)
    refused(register(http, "club", several), "invite_revoked")
    # An open federation takes anyone, with or without a code.
    assert register(http, "default").status_code == 201
    with svc.database.connect() as conn:
        clients = enrollment.list_clients(conn, fed["id"])
    assert len(clients) == 3 and all(c["invite_id"] is not None for c in clients)


def test_a_revoked_token_is_refused_and_its_live_update_discarded(database):
    app = make_app(database)
    http = app.test_client()
    people = [Participant(http) for _ in range(3)]
    for person in people[:2]:
        assert person.send_update().status_code == 202
    svc = app.extensions["fl"]
    assert svc.senders.get(token_hash(people[0].token)) is not None   # cached
    with svc.database.connect() as conn:
        outcome = enrollment.revoke_client(conn, people[0].id, svc.settings.clock())
        assert outcome == {"client": people[0].id, "discarded": 1}
        assert enrollment.revoke_client(conn, 10 ** 9, 0.0) is None
    state = people[1].state()
    live = state["round"]["id"]
    assert state["round"]["accepted"] == 1   # only people[1]'s update is left
    # Refused although the process still has the client in its cache of tokens.
    answer = people[0].send_update()
    assert answer.status_code == 401 and "revoked" in answer.get_json()["detail"]
    answer = http.get("/api/secure/state", headers={"Authorization": "Bearer "
                                                     + people[0].token})
    assert answer.status_code == 401
    # The round closes with the two others; the revoked update is not in the new head.
    assert people[2].send_update().status_code == 202
    extra = Participant(http)
    assert extra.send_update().status_code == 202
    state = extra.state()
    assert state["head_version"] == 1
    report = http.get("/api/rounds/%d" % live).get_json()
    assert report["accepted"] == 3 and report["refusals"] == {"unauthorized": 1}


def test_a_secure_round_refuses_too_many_members_of_one_invite(database):
    app = make_app(database, FEDERATION_MODE="secure", MIN_UPDATES=5,
                   SECURE_MAX_INVITE_SHARE=0.4)
    http = app.test_client()
    code = invite(app, "club", max_uses=None)
    members = []
    for _ in range(3):
        answer = register(http, "club", code)
        assert answer.status_code == 201
        members.append(SecureMember(http, federation="club", identity=answer.get_json()))
    others = [SecureMember(http, federation="club",
                           identity=register(http, "club", invite(app, "club")).get_json())]
    round_id = members[0].secure_state()["round"]
    for member in members[:2] + others:
        assert member.join(round_id).status_code == 200
    answer = members[2].join(round_id)
    assert answer.status_code == 403 and answer.get_json()["error"] == "invite_share"
    assert np.isclose(app.extensions["fl"].settings.max_invite_share, 0.4)
