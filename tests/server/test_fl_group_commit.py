"""Group commit: updates stored at the same time share a transaction, each answered with
its own outcome only after that transaction committed; rounds still close at exactly
MIN_UPDATES and every stale update is refused and counted."""
import threading
import time

import numpy as np
import pytest

from fl import create_app
from fl.group_commit import BatchFailed, GroupCommit
from tests.support.fl_client import Participant


def _slow_work(log, seconds=0.05):
    def work(items):
        log.append(list(items))
        time.sleep(seconds)   # a commit in progress: the others queue meanwhile
        return [("done", item, threading.get_ident()) for item in items]
    return work


def test_a_lone_item_is_written_at_once_and_alone():
    group = GroupCommit()
    log = []
    assert group.run(1, _slow_work(log, 0)) == ("done", 1, threading.get_ident())
    assert log == [[1]] and group.batches == 1


def test_items_that_arrive_during_a_batch_share_the_next_one():
    group = GroupCommit()
    log, results = [], {}

    def one(i):
        results[i] = group.run(i, _slow_work(log))

    first = threading.Thread(target=one, args=(0,))
    first.start()
    time.sleep(0.01)
    others = [threading.Thread(target=one, args=(i,)) for i in range(1, 9)]
    for t in others:
        t.start()
    for t in [first] + others:
        t.join(timeout=10)
    assert log[0] == [0] and sorted(log[1]) == list(range(1, 9)) and len(log) == 2
    assert all(results[i][:2] == ("done", i) for i in range(9))
    leader = {results[i][2] for i in range(1, 9)}
    assert len(leader) == 1   # one thread wrote the whole batch
    assert (group.batches, group.items) == (2, 9)


def test_batches_hold_at_most_limit_items():
    group = GroupCommit(limit=3)
    log = []
    threads = [threading.Thread(target=group.run, args=(i, _slow_work(log, 0.02)))
               for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert max(len(batch) for batch in log) <= 3
    assert sorted(i for batch in log for i in batch) == list(range(10))


def test_a_failed_batch_fails_each_of_its_items():
    group = GroupCommit()
    errors = {}
    started = threading.Event()

    def work(items):
        started.set()
        time.sleep(0.05)
        if len(items) > 1:
            raise RuntimeError("disk full")
        return [None]

    def one(i):
        try:
            group.run(i, work)
        except Exception as exc:
            errors[i] = exc

    threads = [threading.Thread(target=one, args=(0,))]
    threads[0].start()
    started.wait(5)
    threads += [threading.Thread(target=one, args=(i,)) for i in (1, 2, 3)]
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert 0 not in errors and sorted(errors) == [1, 2, 3]
    kinds = sorted(type(e).__name__ for e in errors.values())
    assert kinds == ["BatchFailed", "BatchFailed", "RuntimeError"]
    assert all(isinstance(e.__cause__, RuntimeError) for e in errors.values()
               if isinstance(e, BatchFailed))
    assert group.run(9, work) is None   # the queue still works


@pytest.mark.parametrize("group_commit", [True, False], ids=["group_commit", "one_by_one"])
def test_threads_sending_together_close_each_round_exactly_once(database, group_commit):
    app = create_app({"TESTING": True, "MIN_UPDATES": 5, "FEDERATION_MODE": "plain",
                      "GROUP_COMMIT": group_commit,
                      **database})
    setup = app.test_client()
    people = [Participant(setup) for _ in range(12)]
    delta = np.random.default_rng(3).normal(scale=0.01, size=1152)
    statuses, target = [], 4

    def work(person):
        person = Participant(app.test_client(), identity=person.identity)   # its own client
        while True:
            state = person.state()
            if state["head_version"] >= target:
                return
            answer = person.send(person.encode(weights=delta, bias=[0.0] * 3, examples=2,
                                               state=state))
            statuses.append(answer.status_code)
            if answer.status_code == 409:
                body = answer.get_json()
                assert body["error"] in ("stale_round", "stale_base", "replay")
                assert body["current_round"] >= state["round"]["id"]
                time.sleep(0.005)
            else:
                assert answer.status_code == 202, answer.get_json()

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    state = setup.get("/api/federation").get_json()
    reports = [setup.get("/api/rounds/%d" % r).get_json()
               for r in range(1, state["round"]["id"] + 1)]
    closed = [r for r in reports if r["status"] == "aggregated"]
    assert [r["accepted"] for r in closed] == [5] * len(closed)
    assert [r["result_version"] for r in closed] == list(range(1, len(closed) + 1))
    assert state["head_version"] == len(closed) >= target
    assert statuses.count(202) == sum(r["accepted"] for r in reports)
    assert statuses.count(409) == sum(r["refused"] for r in reports)
    group = app.extensions["fl"].group
    if group_commit:
        assert group.items == statuses.count(202) + statuses.count(409)
        assert group.batches < group.items   # some updates did share a transaction
    else:
        assert group is None
