"""The secure-aggregation protocol end to end in one process (Python clients from the same
core code as the browsers): masks cancel bit-exactly for cohorts of 5, 10 and 100 with up to
floor(N/3) dropouts at every phase, more dropouts abort, and what the server holds never
reveals an input."""
import numpy as np
import pytest

from fl.secagg_unmask import UnmaskError, unmask_sum
from tests.support.secagg_client import SecAggClient
from tinybert_core import secagg

ROWS, COLS, CLIP, CAP, ROUND = 3, 16, 30.0, 100, 7


def run_round(n, drop_sharing=(), drop_masking=(), drop_revealing=(), seed=0, cols=COLS):
    """Run one round; returns (sum, expected, server_view). ``drop_*``: positions of the
    members that leave before that phase's message."""
    rng = np.random.default_rng(seed)
    ids = sorted(int(i) for i in rng.choice(10 ** 6, size=n, replace=False) + 1)
    clients = {i: SecAggClient(i, ROUND) for i in ids}
    keys = {i: c.advertise() for i, c in clients.items()}
    graph = secagg.neighbourhoods(ids, 99)
    gone = {ids[p] for p in drop_sharing}
    outbox = {i: c.share(keys, graph) for i, c in clients.items() if i not in gone}
    shared = sorted(outbox)
    scale = secagg.fixed_point_scale(n, CAP, CLIP)
    gone |= {ids[p] for p in drop_masking}
    masked = {}
    for i in shared:
        if i in gone:
            continue
        inbox = {u: outbox[u][i] for u in shared if u != i and i in outbox[u]}
        x = rng.normal(size=ROWS * cols + ROWS)
        x *= rng.uniform(0.05, 1) * CLIP / np.linalg.norm(x)
        masked[i] = clients[i].masked_input(inbox, x[:ROWS * cols].tolist(),
                                            x[ROWS * cols:].tolist(),
                                            int(rng.integers(1, CAP + 1)), scale, CLIP, CAP)
    gone |= {ids[p] for p in drop_revealing}
    reveals = {}
    for i in masked:
        if i not in gone:
            reveals[i] = clients[i].reveal(list(masked))
    mask_keys = {i: keys[i]["mask_key"] for i in ids}
    total = unmask_sum(masked, shared, mask_keys, reveals, graph, ROUND,
                       secagg.input_length(ROWS, cols))
    expected = np.sum([clients[i].encoded for i in masked], axis=0, dtype=np.uint32)
    return total, expected, {"masked": masked, "reveals": reveals, "clients": clients}


@pytest.mark.parametrize("n", [5, 10, 100])
def test_masks_cancel_without_dropouts(n):
    total, expected, _ = run_round(n)
    assert np.array_equal(total, expected)


@pytest.mark.parametrize("n,phase", [(n, phase) for n in (5, 10)
                                     for phase in ("sharing", "masking", "revealing", "all")]
                         + [(100, "all")])
def test_masks_cancel_with_a_third_dropping_out(n, phase):
    most = n // 3
    if phase == "all" and most >= 3:
        drops = {"drop_sharing": [0], "drop_masking": list(range(1, most - 1)),
                 "drop_revealing": [most - 1]}
    elif phase == "all":
        drops = {"drop_masking": [0]}
    else:
        drops = {"drop_" + phase: list(range(most))}
    total, expected, _ = run_round(n, seed=n, **drops)
    assert np.array_equal(total, expected)


@pytest.mark.parametrize("n", [5, 10, 100])
def test_more_dropouts_abort_and_publish_nothing(n):
    too_many = list(range(n // 3 + 1))
    with pytest.raises(ValueError, match="too few survivors"):
        run_round(n, drop_masking=too_many)          # the survivors refuse to reveal
    with pytest.raises(UnmaskError, match="needed"):
        run_round(n, drop_revealing=too_many)        # the server cannot rebuild the seeds


def test_the_server_view_reveals_no_input():
    _, _, view = run_round(10, drop_masking=[3], cols=384)
    for i, words in view["masked"].items():
        encoded = view["clients"][i].encoded.view(np.int32).astype(np.float64)
        signed = words.view(np.int32).astype(np.float64)
        cosine = signed @ encoded / (np.linalg.norm(signed) * np.linalg.norm(encoded))
        assert abs(cosine) < 0.1
        # A masked input is uniform on [0, 2^32): chi-square over 16 bins.
        counts = np.bincount((words >> 28).astype(np.int64), minlength=16)
        chi2 = float(np.sum((counts - len(words) / 16) ** 2 / (len(words) / 16)))
        assert chi2 < 57.4   # p = 1e-6 for 15 degrees of freedom
    # The server never holds a threshold of seed shares and of key shares of one member.
    for owner in view["clients"]:
        seeds = sum(owner in r["seed"] for r in view["reveals"].values())
        keys = sum(owner in r["key"] for r in view["reveals"].values())
        assert min(seeds, keys) == 0 and max(seeds, keys) >= secagg.threshold(10)
