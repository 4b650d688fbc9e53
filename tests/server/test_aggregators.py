"""Aggregation rules against results computed by hand."""
import numpy as np
import pytest

from fl.aggregators import (
    AggregationError,
    build_aggregator,
    clip_rows,
    clipped,
    fedavg,
    krum,
    krum_scores,
    median,
    trimmed_mean,
)

DELTAS = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, -4.0]])


def test_fedavg_weights_by_example_counts():
    # (1*1 + 3*1 + 5*2) / 4 = 3.5 ; (0 + 2 - 8) / 4 = -1.5
    assert fedavg(DELTAS, [1, 1, 2]).tolist() == [3.5, -1.5]
    assert fedavg(DELTAS, [5, 5, 5]).tolist() == [3.0, -2 / 3]


def test_median_is_coordinate_wise():
    assert median(DELTAS, [1, 1, 100]).tolist() == [3.0, 0.0]
    assert median(DELTAS[:2], [1, 1]).tolist() == [2.0, 1.0]


def test_trimmed_mean_drops_the_extremes_of_each_coordinate():
    deltas = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    assert trimmed_mean(deltas, [1] * 5, trim=0.2).tolist() == [2.0]   # drops 0 and 100
    assert trimmed_mean(deltas, [1] * 5, trim=0.1).tolist() == [21.2]  # floor(0.5) = 0
    with pytest.raises(AggregationError):
        trimmed_mean(deltas, [1] * 5, trim=0.5)


def test_krum_picks_the_delta_closest_to_its_neighbours():
    deltas = np.array([[0.0], [1.0], [2.0], [3.0], [50.0]])
    # f = 1, n = 5: each score sums the squared distances to the n - f - 2 = 2 nearest.
    assert krum_scores(deltas, 1).tolist() == [1 + 4, 1 + 1, 1 + 1, 1 + 4, 47 ** 2 + 48 ** 2]
    assert krum(deltas, [1] * 5, byzantine=1).tolist() == [1.0]   # tie 1 vs 2: earlier wins
    assert krum(deltas, [1] * 5, byzantine=1, select=2).tolist() == [1.5]
    with pytest.raises(AggregationError, match="at least 5"):
        krum(deltas[:4], [1] * 4, byzantine=1)


def test_clipping_wraps_a_base_rule():
    deltas = np.array([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    assert np.allclose(clip_rows(deltas, 1.0), [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]])
    rule = clipped(fedavg, 1.0)
    assert np.allclose(rule(deltas, [1, 1, 2]), [0.225, 0.3])
    assert rule.__name__ == "clipped_fedavg"
    with pytest.raises(ValueError):
        clipped(fedavg, 0)


def test_build_from_name():
    assert build_aggregator("fedavg") is fedavg
    rule = build_aggregator("trimmed_mean", trim=0.2)
    assert rule(np.array([[0.0], [1.0], [2.0], [3.0], [100.0]]), [1] * 5).tolist() == [2.0]
    clipped_krum = build_aggregator("krum", clip_bound=10.0, byzantine=1)
    assert clipped_krum(np.array([[0.0], [1.0], [2.0], [3.0], [50.0]]), [1] * 5).tolist() == [1.0]
    with pytest.raises(ValueError, match="allowed: fedavg, krum, median, trimmed_mean"):
        build_aggregator("average")


def test_bad_inputs_are_refused():
    with pytest.raises(AggregationError):
        fedavg(np.zeros((0, 2)), [])
    with pytest.raises(AggregationError):
        fedavg(DELTAS, [1, 0, 1])
    with pytest.raises(AggregationError):
        median(DELTAS, [1, 1])
