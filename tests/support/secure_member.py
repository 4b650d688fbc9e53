"""A member of secure rounds over the API (``/api/secure/...``), for server tests and
benchmarks: ``SecAggClient`` (the browser's steps in Python) plus the requests that carry
them, over Flask's test client or ``fl_client.HttpClient``.

``run_secure_round(members, inputs, leave=...)`` drives a whole round phase by phase, the way
the browsers' polling would, and lets chosen members leave before a phase's message.
"""
import base64

import numpy as np

from tests.support.fl_client import Participant
from tests.support.secagg_client import SecAggClient


def _b64(data):
    return base64.b64encode(bytes(data)).decode("ascii")


class SecureMember(Participant):
    """A registered client that takes part in secure rounds."""

    def _auth(self):
        return {"Authorization": "Bearer " + self.token}

    def secure_state(self, round_id=None):
        query = "?federation=" + (self.federation or "default")
        if round_id is not None:
            query += "&round=%d" % round_id
        answer = self.http.get("/api/secure/state" + query, headers=self._auth())
        assert answer.status_code == 200, answer.get_json()
        return answer.get_json()

    def post(self, path, body):
        return self.http.post("/api/secure/" + path + "?federation="
                              + (self.federation or "default"), json=body,
                              headers=self._auth())

    def join(self, round_id):
        self.protocol = SecAggClient(self.id, round_id)
        keys = self.protocol.advertise()
        return self.post("join", {"round": round_id,
                                  "encryption_key": _b64(keys["encryption_key"]),
                                  "mask_key": _b64(keys["mask_key"])})

    @staticmethod
    def _keys(state):
        return {m["id"]: {"encryption_key": base64.b64decode(m["encryption_key"]),
                          "mask_key": base64.b64decode(m["mask_key"])}
                for m in state["members"]}

    def share(self, state):
        from tinybert_core import secagg
        graph = secagg.neighbourhoods([m["id"] for m in state["members"]], state["graph_seed"])
        sealed = self.protocol.share(self._keys(state), graph)
        return self.post("shares", {"round": state["round"],
                                    "shares": {str(k): _b64(v) for k, v in sealed.items()}})

    def masked_input(self, state, weights, bias, weight):
        inbox = self.http.get("/api/secure/shares?federation=%s&round=%d"
                              % (self.federation or "default", state["round"]),
                              headers=self._auth()).get_json()
        sealed = {int(k): base64.b64decode(v) for k, v in inbox["shares"].items()}
        words = self.protocol.masked_input(sealed, list(weights), list(bias), weight,
                                           state["scale"], state["clip"], state["weight_cap"])
        return self.http.post("/api/secure/masked?federation=%s&round=%d"
                              % (self.federation or "default", state["round"]),
                              data=words.astype("<u4").tobytes(), headers=self._auth(),
                              content_type="application/octet-stream")

    def reveal(self, state):
        shares = self.protocol.reveal(state["survivors"])
        return self.post("reveal", {
            "round": state["round"],
            "seed": {str(k): _b64(v) for k, v in shares["seed"].items()},
            "key": {str(k): _b64(v) for k, v in shares["key"].items()}})


def _ok(answer):
    assert answer.status_code == 200, answer.get_json()
    return answer


def run_secure_round(members, inputs, leave=None, before_phase=None):
    """One secure round: each member joins, shares, sends its input (``inputs[i]``:
    ``(weights, bias, weight)``) and reveals, unless ``leave`` says it left before that
    phase (``{"share": [positions], "mask": [...], "reveal": [...]}``). ``before_phase(name,
    state)`` runs before each phase's messages (e.g. to read the database or move a clock).
    Returns the final state as the first member that stayed sees it."""
    leave = leave or {}
    gone = set()
    round_id = members[0].secure_state()["round"]
    for m in members:
        _ok(m.join(round_id))
    for phase in ("share", "mask", "reveal"):
        gone |= set(leave.get(phase, []))
        staying = [m for i, m in enumerate(members) if i not in gone]
        state = staying[0].secure_state(round_id)
        if before_phase is not None:
            before_phase(phase, state)
            state = staying[0].secure_state(round_id)
        if state["phase"] in ("aggregated", "aborted"):
            return state
        assert state["phase"] == phase, state
        for i, m in enumerate(members):
            if i in gone:
                continue
            if phase == "share":
                _ok(m.share(state))
            elif phase == "mask":
                _ok(m.masked_input(state, *inputs[i]))
            else:
                _ok(m.reveal(state))
    if before_phase is not None:
        before_phase("end", staying[0].secure_state(round_id))
    return staying[0].secure_state(round_id)


def random_inputs(count, rows, cols, clip, rng, weight_cap=100):
    """``count`` inputs of norm below ``clip`` with weights in 1..weight_cap."""
    out = []
    for _ in range(count):
        x = rng.normal(size=rows * cols + rows)
        x *= rng.uniform(0.1, 0.9) * clip / np.linalg.norm(x)
        out.append((x[:rows * cols].tolist(), x[rows * cols:].tolist(),
                    int(rng.integers(1, weight_cap + 1))))
    return out
