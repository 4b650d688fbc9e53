"""Rate limits (fl.rate_limits): per token and per address on every write route, answered
429 with Retry-After (the seconds left of the window) and lifted when the window ends; the
counters live in the database, so that several gunicorn workers together allow exactly the
limit (SQLite and PostgreSQL); requests over a limit are not counted in rounds."""
import os
import sys
import threading

import pytest

from fl import create_app
from fl.config import config_from_env
from tests.server.test_fl_persistence import Server
from tests.support.fl_client import Clock, Participant
from tests.support.secure_member import SecureMember

START = 999_980.0   # 20 s into a 60 s window


def make_app(database, **config):
    return create_app({"TESTING": True, "MIN_UPDATES": 50, "FEDERATION_MODE": "plain",
                       "CLOCK": Clock(START), **database, **config})


def test_a_token_over_its_limit_gets_429_until_the_window_ends(database):
    app = make_app(database, RATE_LIMIT_TOKEN=3)
    http = app.test_client()
    clock = app.config["CLOCK"]
    person, other = Participant(http), Participant(http)
    answers = [person.send_update() for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 409, 409]   # replays count too
    over = person.send_update()
    assert over.status_code == 429 and over.get_json()["error"] == "rate_limited"
    assert over.headers["Retry-After"] == "40" and over.get_json()["retry_after"] == 40
    assert "at most 3" in over.get_json()["detail"]
    assert other.send_update().status_code == 202   # another token is not limited
    assert person.send(b"junk").status_code == 429
    report = http.get("/api/rounds/%d" % person.state()["round"]["id"]).get_json()
    assert report["refusals"] == {"replay": 2}   # the 429s are not counted in the round
    clock.now += 40
    assert person.send_update().status_code == 409   # a new window: a replay again


def test_registrations_and_secure_messages_are_limited(database):
    app = make_app(database, RATE_LIMIT_REGISTER=2, RATE_LIMIT_TOKEN=2,
                   FEDERATION_MODE="secure", MIN_UPDATES=5)
    http = app.test_client()
    members = [SecureMember(http) for _ in range(2)]
    answer = http.post("/api/register", json={})
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) == 40
    round_id = members[0].secure_state()["round"]
    assert members[0].join(round_id).status_code == 200
    assert members[0].join(round_id).status_code == 409   # already joined
    assert members[0].join(round_id).status_code == 429
    for _ in range(5):   # reading the state is not limited
        members[0].secure_state()


def test_the_address_limit_and_the_switch(database):
    app = make_app(database, RATE_LIMIT_ADDRESS=4)
    http = app.test_client()
    people = [Participant(http) for _ in range(3)]   # registrations have their own limit
    assert [p.send_update().status_code for p in people] == [202] * 3
    extra = Participant(http)
    assert extra.send_update().status_code == 202
    assert extra.send_update().status_code == 429
    assert extra.send(extra.encode(), token="forged").status_code == 429
    app = make_app(database, RATE_LIMIT_ADDRESS=1, RATE_LIMIT=False)
    http = app.test_client()
    assert [Participant(http).send_update().status_code for _ in range(3)] == [202] * 3
    assert config_from_env({"RATE_LIMIT": "off", "RATE_LIMIT_TOKEN": "9"}) == {
        "RATE_LIMIT": False, "RATE_LIMIT_TOKEN": 9}
    with pytest.raises(ValueError, match="must be positive"):
        make_app(database, RATE_LIMIT_TOKEN=0)


def test_several_gunicorn_workers_share_the_limits(tmp_path, database, servers):
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    env = dict(database, RATE_LIMIT_REGISTER="10", RATE_LIMIT_TOKEN="6",
               RATE_LIMIT_WINDOW="3600", MIN_UPDATES="100")
    cmd = [gunicorn, "-w", "3", "-b", "127.0.0.1:{port}", "--timeout", "60", "fl.wsgi:app"]
    server = Server(cmd, env, tmp_path / "gunicorn.log")
    servers.append(server)
    server.start()
    http = server.http
    answers = []

    def register():
        answers.append(http.post("/api/register", json={}))

    threads = [threading.Thread(target=register) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] * 10 + [429] * 20
    assert all(1 <= int(a.headers["Retry-After"]) <= 3600 for a in answers
               if a.status_code == 429)
    person = Participant(http, identity=next(a for a in answers
                                             if a.status_code == 201).get_json())
    sent = []

    def send():
        sent.append(person.send_update().status_code)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(sent) == [202] + [409] * 5 + [429] * 14
