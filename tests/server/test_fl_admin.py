"""The operator's command line (``python -m fl federation|invite|clients|rounds|head|ledger``),
run as processes against a real SQLite database that a server app uses at the same time:
a federation made by the command is invite-only, its invite admits a page, the revoked
client is refused, rounds and the head are listed and exported, the ledger shown; what
cannot be done exits with status 2 and says why."""
import json
import os
import subprocess
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

from fl import create_app
from tests.support.fl_client import Participant

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fl_command(env, *args):
    """Run ``python -m fl ARGS``; returns (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "fl", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def test_the_operator_makes_a_federation_invites_revokes_and_exports(tmp_path):
    path = str(tmp_path / "fl.sqlite3")
    env = dict(os.environ, DATABASE_PATH=path, FEDERATION_MODE="plain", LOG_LEVEL="WARNING")
    status, out, err = fl_command(env, "federation", "create", "club", "--labels", "yes,no",
                                  "--dim", "2", "--hidden-size", "2", "--encoder", "e")
    assert status == 0, err
    assert "enrollment invite" in out and "mode plain" in out
    status, _, err = fl_command(env, "federation", "create", "club", "--labels", "yes,no")
    assert status == 2 and "exists already" in err
    status, out, _ = fl_command(env, "federation", "list", "--json")
    listed = {row["name"]: row for row in json.loads(out)}
    assert listed["club"]["enrollment"] == "invite" and listed["default"]["enrollment"] == "open"

    status, out, _ = fl_command(env, "invite", "create", "--federation", "club", "--uses", "2",
                                "--expires", "1h", "--json")
    made = json.loads(out)
    assert status == 0 and made["max_uses"] == 2
    app = create_app({"TESTING": True, "DATABASE_PATH": path, "FEDERATION_MODE": "plain",
                      "MIN_UPDATES": 2})
    http = app.test_client()
    assert http.post("/api/register", json={"federation": "club"}).status_code == 403
    joined = [http.post("/api/register", json={"federation": "club", "invite": made["code"]})
              for _ in range(3)]
    assert [a.status_code for a in joined] == [201, 201, 403]
    people = [Participant(http, federation="club", identity=a.get_json()) for a in joined[:2]]

    status, out, _ = fl_command(env, "invite", "list", "--federation", "club", "--json")
    assert [(i["id"], i["uses"]) for i in json.loads(out)] == [(made["id"], 2)]
    assert made["code"] not in out
    status, out, _ = fl_command(env, "clients", "list", "--federation", "club", "--json")
    assert [c["id"] for c in json.loads(out)] == [p.id for p in people]

    rows, cols = 2, 2
    assert people[0].send_update(rows=rows, cols=cols).status_code == 202
    status, out, _ = fl_command(env, "clients", "revoke", str(people[0].id))
    assert status == 0 and "1 update of the live round discarded" in out
    answer = people[0].send_update(rows=rows, cols=cols)
    assert answer.status_code == 401
    status, _, err = fl_command(env, "clients", "revoke", "999")
    assert status == 2 and "no client 999" in err
    status, out, _ = fl_command(env, "invite", "revoke", str(made["id"]))
    assert status == 0
    assert http.post("/api/register", json={"federation": "club", "invite": made["code"]}) \
        .get_json()["error"] == "invite_revoked"

    status, out, _ = fl_command(env, "rounds", "list", "--federation", "club", "--json")
    (live,) = json.loads(out)
    assert live["status"] in ("open", "collecting") and live["accepted"] == 0
    assert live["refused"] == 1   # the revoked token's update after it was revoked
    status, out, _ = fl_command(env, "rounds", "list", "--federation", "club")
    assert out.splitlines()[0].split()[:3] == ["id", "kind", "status"]

    target = str(tmp_path / "head.safetensors")
    status, out, _ = fl_command(env, "head", "export", "--federation", "club", "--out", target)
    assert status == 0
    head = load_file(target)
    assert head["weight"].shape == (2, 2) and np.all(head["bias"] == 0)
    with safe_open(target, "numpy") as found:
        assert json.loads(found.metadata()["labels"]) == ["yes", "no"]
    status, _, err = fl_command(env, "head", "export", "--federation", "club", "--version",
                                "5", "--out", target)
    assert status == 2 and "no head version 5" in err

    status, out, _ = fl_command(env, "ledger", "show", "--federation", "club")
    assert status == 0 and "has no differential privacy" in out
    status, _, err = fl_command(env, "ledger", "show", "--federation", "nowhere")
    assert status == 2 and "no federation called 'nowhere'" in err


def test_the_ledger_shows_a_private_federation(tmp_path):
    env = dict(os.environ, DATABASE_PATH=str(tmp_path / "fl.sqlite3"), LOG_LEVEL="WARNING")
    status, out, err = fl_command(env, "federation", "create", "dp", "--labels", "a,b",
                                  "--mode", "secure", "--privacy", "client")
    assert status == 0, err
    status, out, _ = fl_command(env, "ledger", "show", "--federation", "dp", "--json")
    shown = json.loads(out)
    assert shown["privacy"]["mode"] == "client" and shown["privacy"]["rounds"] == 0
    assert shown["releases"] == []
    status, out, _ = fl_command(env, "ledger", "show", "--federation", "dp")
    assert "dp (client): epsilon 0 spent of 8" in out
    status, out, err = fl_command(env, "federation", "create", "small", "--labels", "a,b",
                                  "--mode", "secure", "--privacy",
                                  '{"mode": "example", "target_epsilon": 4}')
    assert status == 0 and "privacy example/distributed" in out, err
    status, out, _ = fl_command(env, "federation", "list")
    assert "example/distributed" in out and "client" in out
    # A dict without a mode is refused in words, not taken as no privacy.
    status, _, err = fl_command(env, "federation", "create", "vague", "--labels", "a,b",
                                "--mode", "secure", "--privacy", '{"target_epsilon": 4}')
    assert status == 2 and "needs a mode" in err
