"""The server's log: one line per closed round and one per refusal under the ``fl`` logger,
never a token; printed to stderr by the app unless it is TESTING or the host already takes
the lines; the level comes from LOG_LEVEL."""
import logging

from fl import create_app
from fl.config import config_from_env
from fl.logs import configure_logging
from tests.support.fl_client import Participant


def test_one_line_per_round_and_per_refusal_and_no_token(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="fl")
    app = create_app({"TESTING": True, "MIN_UPDATES": 2, "FEDERATION_MODE": "plain",
                      "DATABASE_PATH": str(tmp_path / "fl.sqlite3")})
    http = app.test_client()
    people = [Participant(http) for _ in range(2)]
    caplog.clear()
    stale = people[0].encode(round_id=999)
    assert people[0].send(stale).status_code == 409
    assert people[1].send(b"junk").status_code == 400
    assert people[1].send(b"junk", token="forged").status_code == 401
    for person in people:
        assert person.send_update().status_code == 202
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("fl")]
    assert lines == [
        "refused stale_round: round 1, client %d" % people[0].id,
        "refused truncated: round 1, client %d" % people[1].id,
        "refused unauthorized: round 1, client unknown",
        "federation default round 1 aggregated 2 updates into head version 1"]
    text = caplog.text
    assert not any(person.token in text for person in people)


def test_the_app_prints_only_when_nothing_else_takes_the_lines(monkeypatch):
    logger = logging.getLogger("fl")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", False)   # as if no host handler took them
    configure_logging(create_app({"TESTING": True}))
    assert logger.handlers == []
    for _ in range(2):
        create_app({"LOG_LEVEL": "WARNING"})
    assert len(logger.handlers) == 1 and logger.level == logging.WARNING
    monkeypatch.setattr(logger, "propagate", True)
    assert config_from_env({"LOG_LEVEL": "debug"}) == {"LOG_LEVEL": "DEBUG"}


def test_refusals_of_rate_revocation_and_invites_log_no_secret(tmp_path, caplog):
    from fl import enrollment, store
    from fl.auth import token_hash

    caplog.set_level(logging.DEBUG, logger="fl")
    club = {"name": "club", "labels": ["a", "b"], "dim": 2, "encoder": "e", "hidden_size": 2,
            "enrollment": "invite"}
    app = create_app({"TESTING": True, "FEDERATION_MODE": "plain", "RATE_LIMIT_TOKEN": 2,
                      "DATABASE_PATH": str(tmp_path / "fl.sqlite3"),
                      "FEDERATIONS": [club, dict(club, name="default", enrollment="open")]})
    http = app.test_client()
    svc = app.extensions["fl"]
    svc.ensure_ready()
    with svc.database.connect() as conn:
        _, code = enrollment.create_invite(conn, store.federation_by_name(conn, "club")["id"],
                                           0.0)
    joined = http.post("/api/register", json={"federation": "club", "invite": code})
    assert http.post("/api/register", json={"federation": "club", "invite": code}) \
        .status_code == 403
    person = Participant(http, federation="club", identity=joined.get_json())
    statuses = [person.send(b"junk").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    with svc.database.connect() as conn:
        enrollment.revoke_client(conn, person.id, 1.0)
    assert http.get("/api/secure/state?federation=club",
                    headers={"Authorization": "Bearer " + person.token}).status_code == 401
    text = caplog.text
    assert "rate limit: token over its limit" in text
    for secret in (person.token, token_hash(person.token), code, enrollment.code_hash(code)):
        assert secret not in text
