"""Privacy accounting (fl/privacy.py): dp-accounting's own reference case and the reference
points of client-level DP-FedAvg, calibration, the trainer's event, and strict refusals."""
import math

import dp_accounting
import pytest

from fl.privacy import (
    dp_event_from,
    epsilon,
    epsilon_after_rounds,
    noise_for_epsilon,
    rounds_event,
)
from tinybert_core.train import dp_event_of

GAUSSIAN = {"type": "gaussian", "noise_multiplier": 4.530877117}


def test_reference_gaussian_gives_epsilon_one():
    """dp-accounting's RDP test: z = 4.530877117, one release, is (1, 1e-6)-DP."""
    assert epsilon(GAUSSIAN, 1e-6) == pytest.approx(1.0, abs=1e-3)
    # PLD is tighter, and agrees with dp-accounting's exact Gaussian-mechanism formula.
    pld = epsilon(GAUSSIAN, 1e-6, "pld")
    assert pld < 1.0
    assert pld == pytest.approx(dp_accounting.get_epsilon_gaussian(4.530877117, 1e-6),
                                abs=1e-3)


@pytest.mark.parametrize("z,after_one,after_ten", [(2, 2.17, 8.08), (4, 1.01, 3.62),
                                                   (8, 0.48, 1.67)])
def test_client_level_reference_points(z, after_one, after_ten):
    """delta 1e-5, RDP, every client every round."""
    assert epsilon_after_rounds([(z, 1.0)], 1e-5) == pytest.approx(after_one, abs=0.02)
    assert epsilon_after_rounds([(z, 1.0)] * 10, 1e-5) == pytest.approx(after_ten, abs=0.02)


@pytest.mark.parametrize("target,z", [(8, 2.11), (4, 3.84)])
def test_calibration_over_eleven_releases(target, z):
    found = noise_for_epsilon(target, 1e-5, 1.0, 11)
    assert found == pytest.approx(z, abs=0.02)
    assert epsilon_after_rounds([(found, 1.0)] * 11, 1e-5) <= target + 1e-6
    assert epsilon_after_rounds([(found * 0.99, 1.0)] * 11, 1e-5) > target


def test_the_trainers_event_is_accounted_and_calibrated():
    """The in-page case: 60 examples, batches of 16 (q = 4/15), 5 epochs = 20 steps."""
    z = noise_for_epsilon(8, 1e-5, 16 / 60, 20)
    event = dp_event_of({"dp_noise_multiplier": z, "dp_clip": 1.0}, 60)
    assert event["count"] == 20
    assert epsilon(event, 1e-5) == pytest.approx(8, abs=1e-3)
    assert epsilon(event, 1e-5, "pld") < 8
    # More noise, fewer steps or a smaller sample: a smaller epsilon.
    more_noise = dp_event_of({"dp_noise_multiplier": 2 * z, "dp_clip": 1.0}, 60)
    fewer_steps = dp_event_of({"dp_noise_multiplier": z, "dp_clip": 1.0, "epochs": 2}, 60)
    more_data = dp_event_of({"dp_noise_multiplier": z, "dp_clip": 1.0}, 600)
    for other in (more_noise, fewer_steps, more_data):
        assert epsilon(other, 1e-5) < 8


def test_rounds_are_grouped_and_composed():
    rounds = [(2.0, 1.0), (2.0, 1.0), (3.0, 0.5), (2.0, 1.0)]
    assert rounds_event(rounds) == {"type": "composed", "events": [
        {"type": "self_composed", "count": 2,
         "event": {"type": "gaussian", "noise_multiplier": 2.0}},
        {"type": "self_composed", "count": 1,
         "event": {"type": "poisson_sampled", "sampling_probability": 0.5,
                   "event": {"type": "gaussian", "noise_multiplier": 3.0}}},
        {"type": "self_composed", "count": 1,
         "event": {"type": "gaussian", "noise_multiplier": 2.0}}]}
    # Composition does not depend on the order; equal rounds equal one self-composition.
    assert epsilon_after_rounds(rounds, 1e-5) == pytest.approx(
        epsilon_after_rounds(rounds[::-1], 1e-5), rel=1e-9)
    assert epsilon_after_rounds([(2.0, 1.0)] * 3, 1e-5) == pytest.approx(epsilon(
        {"type": "self_composed", "count": 3, "event": {"type": "gaussian",
                                                        "noise_multiplier": 2.0}}, 1e-5))
    assert epsilon_after_rounds([], 1e-5) == 0.0
    assert epsilon_after_rounds([(0.0, 1.0)], 1e-5) == math.inf


def test_descriptions_become_dp_accounting_events():
    event = dp_event_from({"type": "composed", "events": [
        {"type": "self_composed", "count": 3, "event": {
            "type": "poisson_sampled", "sampling_probability": 0.1,
            "event": {"type": "gaussian", "noise_multiplier": 1}}}]})
    assert event == dp_accounting.ComposedDpEvent([dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(0.1, dp_accounting.GaussianDpEvent(1.0)), 3)])
    assert epsilon(event, 1e-5) == epsilon(dp_event_from(
        {"type": "self_composed", "count": 3, "event": {
            "type": "poisson_sampled", "sampling_probability": 0.1,
            "event": {"type": "gaussian", "noise_multiplier": 1}}}), 1e-5)


def nested(depth):
    event = {"type": "gaussian", "noise_multiplier": 1.0}
    for _ in range(depth):
        event = {"type": "self_composed", "count": 1, "event": event}
    return event


@pytest.mark.parametrize("description,message", [
    ("gaussian", "A DP event must be an object, got str."),
    ({"type": "laplace", "noise_multiplier": 1},
     "Unknown DP event type 'laplace'; allowed: composed, gaussian, poisson_sampled, "
     "self_composed."),
    ({"noise_multiplier": 1}, "Unknown DP event type None; allowed:"),
    ({"type": "gaussian"}, "A 'gaussian' DP event has exactly the keys noise_multiplier, "
     "type; got type."),
    ({"type": "gaussian", "noise_multiplier": 1, "sensitivity": 2},
     "A 'gaussian' DP event has exactly the keys noise_multiplier, type; got "
     "noise_multiplier, sensitivity, type."),
    ({"type": "gaussian", "noise_multiplier": -1}, "noise_multiplier must be at least 0"),
    ({"type": "gaussian", "noise_multiplier": True}, "noise_multiplier must be a finite "
     "number, got True."),
    ({"type": "gaussian", "noise_multiplier": "1"}, "noise_multiplier must be a finite"),
    ({"type": "gaussian", "noise_multiplier": float("nan")}, "noise_multiplier must be a "
     "finite"),
    ({"type": "poisson_sampled", "sampling_probability": 1.5, "event": GAUSSIAN},
     "sampling_probability must be from 0 to 1, got 1.5."),
    ({"type": "self_composed", "count": 2.5, "event": GAUSSIAN},
     "count must be a whole number from 0 to 1000000000, got 2.5."),
    ({"type": "self_composed", "count": -1, "event": GAUSSIAN}, "count must be a whole"),
    ({"type": "self_composed", "count": False, "event": GAUSSIAN}, "count must be a whole"),
    ({"type": "composed", "events": GAUSSIAN}, "events of a 'composed' DP event must be a "
     "list."),
    ({"type": "composed", "events": [GAUSSIAN, {"type": "randomized_response"}]},
     "Unknown DP event type 'randomized_response'"),
    (nested(16), "DP event nested more than 16 levels deep."),
    ({"type": "composed", "events": [GAUSSIAN] * 100_001}, "DP event with more than 100000 "
     "parts."),
])
def test_anything_else_is_refused_with_a_message(description, message):
    with pytest.raises(ValueError) as err:
        epsilon(description, 1e-5)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("call,message", [
    (lambda: epsilon(GAUSSIAN, 0), "delta must be above 0 and below 1, got 0.0."),
    (lambda: epsilon(GAUSSIAN, 1.5), "delta must be above 0 and below 1"),
    (lambda: epsilon(GAUSSIAN, 1e-5, "moments"), "Unknown accountant 'moments'; allowed: "
     "rdp, pld."),
    (lambda: noise_for_epsilon(0, 1e-5, 1.0, 10), "target_epsilon must be above 0"),
    (lambda: noise_for_epsilon(1, 1e-5, 0.0, 10), "sampling_probability must be above 0 and "
     "at most 1"),
    (lambda: noise_for_epsilon(1, 1e-5, 0.5, 0), "steps must be a whole number from 1"),
    (lambda: noise_for_epsilon(1, 1e-5, 0.5, 2.0), "steps must be a whole number from 1"),
    (lambda: epsilon_after_rounds([(1.0, 1.0, 3)], 1e-5), "Round 0 must be a pair "
     "(noise_multiplier, sampling_probability)"),
    (lambda: epsilon_after_rounds([(1.0, 2.0)], 1e-5), "sampling_probability must be from 0 "
     "to 1"),
])
def test_bad_arguments_are_refused(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value).startswith(message)


def test_nine_levels_are_fine():
    assert epsilon(nested(9), 1e-5) == pytest.approx(epsilon(
        {"type": "gaussian", "noise_multiplier": 1.0}, 1e-5))
