"""AdaptiveLimit: additive increase, multiplicative decrease, never above the setting."""
from worker.concurrency import AdaptiveLimit, BatchGate


def test_starts_at_the_ceiling_and_halves_on_a_plex_wide_failure():
    limit = AdaptiveLimit(8)
    assert limit.limit == 8
    limit.record_failure()
    assert limit.limit == 4
    limit.record_failure()
    limit.record_failure()
    limit.record_failure()
    assert limit.limit == 1  # never below one


def test_grows_back_by_one_per_window_of_successes_and_never_above_the_ceiling():
    limit = AdaptiveLimit(4)
    limit.record_failure()
    assert limit.limit == 2
    seen = []
    for _ in range(40):
        limit.record_success(0.02)
        seen.append(limit.limit)
    assert seen[:2] == [2, 3]  # two successes at 2 in flight: one more
    assert max(seen) == 4 and seen[-1] == 4
    assert all(later - earlier <= 1 for earlier, later in zip(seen, seen[1:]))


def test_halves_when_answer_times_climb_well_above_the_best_seen():
    limit = AdaptiveLimit(8)
    for _ in range(8):
        limit.record_success(0.05)
    assert limit.limit == 8
    for _ in range(20):
        limit.record_success(2.0)
    assert limit.limit < 8


def test_loopback_jitter_is_not_congestion():
    limit = AdaptiveLimit(4)
    for seconds in [0.001, 0.01, 0.002, 0.05, 0.001] * 10:
        limit.record_success(seconds)
    assert limit.limit == 4


def test_a_batch_gate_closes_on_the_first_plex_wide_failure_and_keeps_it():
    gate = BatchGate(AdaptiveLimit(4))
    assert gate.is_open()
    first, second = RuntimeError("first"), RuntimeError("second")
    gate.record_plex_wide_failure(first)
    gate.record_plex_wide_failure(second)
    assert not gate.is_open() and gate.failure is first
    assert gate.limit.limit == 2  # halved once per batch, not once per worker that saw it
