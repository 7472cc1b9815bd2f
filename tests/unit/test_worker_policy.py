"""The one place failure classes become actions, and the circuit breaker's states."""
import random

import pytest

from common.errors import (
    ConfigurationError,
    NotInPlexYet,
    PermanentError,
    PlexUnreachable,
    SceneGone,
    TransientError,
)
from worker.breaker import CircuitBreaker
from worker.policy import Action, RetryPolicy, error_kind, user_message


@pytest.mark.parametrize("error, action", [
    (SceneGone("gone"), Action.DROP),
    (ConfigurationError("401"), Action.PAUSE),
    (PermanentError("ambiguous"), Action.DEAD_LETTER),
    (NotInPlexYet("no item"), Action.RETRY),
    (TransientError("503"), Action.RETRY),
    (PlexUnreachable("refused"), Action.WAIT),  # Plex-wide: never charged (issue 10)
    (RuntimeError("bug"), Action.RETRY),
])
def test_each_class_has_one_action(error, action):
    assert RetryPolicy().decide(error, 0).action is action


def test_transient_retries_are_bounded_by_max_retries():
    policy = RetryPolicy(max_retries=2)
    assert [policy.decide(TransientError("x"), n).action for n in range(4)] == [
        Action.RETRY, Action.RETRY, Action.DEAD_LETTER, Action.DEAD_LETTER]


def test_full_jitter_stays_under_a_growing_capped_ceiling():
    policy = RetryPolicy(backoff_base=10.0, backoff_cap=100.0, rng=random.Random(3))
    for failures, ceiling in [(1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0), (5, 100.0), (40, 100.0)]:
        delays = [policy.backoff(failures) for _ in range(200)]
        assert 1.0 <= min(delays) and max(delays) <= ceiling
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed step


def test_not_in_plex_schedule_then_dead_letter():
    policy = RetryPolicy(rng=random.Random(1))
    delays = [policy.decide(NotInPlexYet("x"), n).delay for n in range(5)]
    assert [round(delay, -1) for delay in delays] != [0] * 5
    for delay, nominal in zip(delays, [60, 300, 900, 3600, 21600]):
        assert nominal * 0.9 <= delay <= nominal * 1.1
    assert policy.decide(NotInPlexYet("x"), 5).action is Action.DEAD_LETTER


def test_user_message_is_one_redacted_bounded_line():
    message = user_message(TransientError("GET http://plex/?X-Plex-Token=abcdef failed\n  retry"), ["topsecret"])
    assert message == "GET http://plex/?X-Plex-Token=*** failed retry"
    assert user_message(ValueError()) == "unexpected ValueError"
    assert len(user_message(PermanentError("x" * 10_000))) <= 500
    assert error_kind(NotInPlexYet("x")) == "not_in_plex" and error_kind(KeyError()) == "unexpected"


def test_requests_in_flight_when_the_breaker_opened_are_not_probes_and_do_not_push_the_first_probe_back():
    breaker = CircuitBreaker(threshold=1, probe_base=1.0, probe_cap=60.0, rng=random.Random(3))
    assert breaker.record_failure(100.0, PlexUnreachable("502"))
    first_probe = breaker.next_probe_at
    assert 100.5 <= first_probe <= 101.0
    for now in (100.1, 100.2, 100.3):  # three writes that were already on their way
        assert breaker.record_failure(now, PlexUnreachable("502"))
    assert breaker.next_probe_at == first_probe and breaker.probes == 0
    assert breaker.record_failure(first_probe, PlexUnreachable("502"))  # the probe, due, fails
    assert breaker.probes == 1 and 1.0 <= breaker.next_probe_at - first_probe <= 2.0


def test_breaker_opens_after_a_run_probes_with_backoff_and_closes():
    breaker = CircuitBreaker(threshold=3, probe_base=10.0, probe_cap=40.0, rng=random.Random(2))
    assert not breaker.record_failure(0.0) and not breaker.record_failure(1.0)
    breaker.record_success()  # the run is broken: counting starts again
    assert not breaker.record_failure(2.0) and not breaker.record_failure(3.0)
    assert breaker.record_failure(4.0) and breaker.is_open
    assert 9.0 <= breaker.next_probe_at <= 14.0 and not breaker.probe_due(8.9)
    gaps = []
    for _ in range(4):
        now = breaker.next_probe_at
        assert breaker.probe_due(now) and breaker.record_failure(now)
        gaps.append(breaker.next_probe_at - now)
    assert 10.0 <= gaps[0] <= 20.0 and all(20.0 <= gap <= 40.0 for gap in gaps[2:])
    assert breaker.state().is_open
    assert breaker.record_success() and breaker.open_for_traffic() and not breaker.state().is_open
