"""The one table of failures (common.errors), the breaker's rules, and the shrinkable worker clock."""
import random

import pytest

from common.errors import (
    CONFIG,
    ITEM,
    MAINTENANCE,
    PLEX,
    STASH,
    TABLE,
    ConfigurationError,
    NotInPlexYet,
    PermanentError,
    PlexMaintenance,
    PlexServerError,
    PlexUnreachable,
    RequestTooLong,
    SceneGone,
    StashUnreachable,
    SyncError,
    TokenRejected,
    TransientError,
    failure_of,
    plex_status_error,
    stash_status_error,
)
from sync_queue.drainer_status import BreakerState
from worker.breaker import CircuitBreaker
from worker.options import WorkerOptions
from worker.policy import Action, RetryPolicy


def test_every_class_has_one_row_and_a_scope():
    classes = [row.error for row in TABLE]
    assert len(classes) == len(set(classes))
    for cls in (PlexUnreachable, PlexServerError, StashUnreachable, ConfigurationError, NotInPlexYet,
                PermanentError, SceneGone, TransientError):
        assert cls in classes
    assert failure_of(StashUnreachable("x")).scope == STASH  # not its base class's (configuration)
    assert failure_of(PlexUnreachable("x")).scope == PLEX and failure_of(KeyError()).scope == ITEM
    assert failure_of(ConfigurationError("x")).scope == CONFIG and failure_of(SyncError("x")).scope == ITEM


@pytest.mark.parametrize("status, cls", [(401, TokenRejected), (403, TokenRejected),
                                         (429, PlexUnreachable), (502, PlexUnreachable), (503, PlexUnreachable),
                                         (504, PlexUnreachable), (500, PlexServerError), (400, None)])
def test_plex_statuses(status, cls):
    assert plex_status_error(status) is cls


def test_a_rejected_token_and_stash_down_are_classes_of_their_own():
    assert issubclass(TokenRejected, ConfigurationError) and failure_of(TokenRejected("401")).scope == CONFIG
    assert not issubclass(StashUnreachable, ConfigurationError)  # "Stash is down" is no setting to fix


def test_one_decision_says_action_delay_charge_scope_and_breaker():
    policy = RetryPolicy(rng=random.Random(1))
    wide = policy.decide(PlexUnreachable("reset"), 0)
    assert (wide.action, wide.charged, wide.scope, wide.breaker) == (Action.WAIT, False, PLEX, "plex")
    stash = policy.decide(StashUnreachable("refused"), 0)
    assert (stash.charged, stash.scope, stash.breaker) == (False, STASH, "stash")
    item = policy.decide(TransientError("x"), 0)
    assert item.action is Action.RETRY and item.charged and item.scope == ITEM and item.breaker is None
    spread = policy.decide(PlexServerError("500"), 3, repeated=True, open_breakers=("plex",))
    assert (spread.action, spread.delay, spread.charged) == (Action.WAIT, 0.0, False)  # 500s spread: Plex-wide
    assert policy.decide(TokenRejected("401"), 0).action is Action.PAUSE
    assert policy.decide_start(StashUnreachable("down")).breaker == "stash"
    assert policy.decide_start(KeyError("bug")).action is Action.PAUSE
    assert policy.decide_change(PermanentError("no such filter"), 0).action is Action.DROP
    waiting = policy.decide_change(StashUnreachable("down"), 0)
    assert waiting.action is Action.WAIT and waiting.delay == policy.min_delay


def test_stash_statuses():
    assert stash_status_error(502) is StashUnreachable and stash_status_error(500) is TransientError
    assert stash_status_error(200) is None


def test_wide_failures_are_never_charged_and_a_500_only_when_it_repeats():
    policy = RetryPolicy(rng=random.Random(1))
    for error in (PlexUnreachable("reset"), StashUnreachable("refused")):
        assert policy.decide(error, 4).action is Action.WAIT
    first = policy.decide(PlexServerError("500"), 0)
    assert first.action is Action.WAIT and first.delay >= 1.0
    assert policy.decide(PlexServerError("500"), 0, repeated=True).action is Action.RETRY
    assert policy.decide(PlexServerError("500"), 5, repeated=True).action is Action.DEAD_LETTER


def test_500s_open_the_breaker_only_when_they_spread_over_items():
    breaker = CircuitBreaker(probe_base=1.0, probe_cap=60.0, rng=random.Random(3))
    for _ in range(5):  # one item keeps failing while others succeed: never opens
        assert not breaker.record_failure(0.0, PlexServerError("500"), subject=7)
        breaker.record_success()
    assert not breaker.record_failure(1.0, PlexServerError("500"), 1)
    assert not breaker.record_failure(1.0, PlexServerError("500"), 1)  # the same item again
    assert not breaker.record_failure(1.0, PlexServerError("500"), 2)
    assert breaker.record_failure(1.0, PlexServerError("500"), 3) and not breaker.open_for_traffic()
    assert breaker.state().openings == 1


def test_a_wide_failure_opens_at_once_and_probes_double_to_the_cap():
    breaker = CircuitBreaker(probe_base=1.0, probe_cap=60.0, rng=random.Random(4))
    assert breaker.record_failure(100.0, PlexUnreachable("502")) and breaker.is_open
    gaps, now = [], 100.0
    for _ in range(9):
        gaps.append(breaker.next_probe_at - now)
        now = breaker.next_probe_at
        assert breaker.probe_due(now) and not breaker.probe_due(now - 0.01)
        breaker.record_probe(False, now, PlexUnreachable("502"))
    for gap, nominal in zip(gaps, (1, 2, 4, 8, 16, 32, 60, 60, 60)):
        assert nominal / 2 <= gap <= nominal
    assert breaker.state().probes == 9
    assert breaker.record_probe(True, now) and breaker.open_for_traffic()


def test_the_worker_clock_shrinks_as_a_whole():
    options = WorkerOptions().scaled(0.01)
    assert options.probe_base_seconds == pytest.approx(0.01) and options.probe_cap_seconds == pytest.approx(0.6)
    assert options.backoff_base_seconds == pytest.approx(0.1) and options.not_in_plex_schedule[0] == pytest.approx(0.6)
    assert options.max_batch == WorkerOptions().max_batch
    assert WorkerOptions.from_env({"PLEXSYNC_TIME_SCALE": "0.5"}).pause_seconds == pytest.approx(15.0)
    assert WorkerOptions.from_env({"PLEXSYNC_TIME_SCALE": "nonsense"}) == WorkerOptions()


def test_maintenance_waits_for_plex_and_a_request_too_long_is_one_items_retry_never_a_dead_letter():
    policy = RetryPolicy(rng=random.Random(1))
    assert {PlexMaintenance, RequestTooLong} <= {row.error for row in TABLE}
    upgrading = policy.decide(PlexMaintenance("503"), 0)
    assert (upgrading.action, upgrading.charged, upgrading.scope, upgrading.breaker) == (Action.WAIT, False, PLEX, "plex")
    too_long = policy.decide(RequestTooLong("414"), 0)
    assert (too_long.action, too_long.scope) == (Action.RETRY, ITEM)


def test_the_down_line_names_plexs_database_upgrade_while_it_answers_503_maintenance():
    upgrading = BreakerState("open", opened_at=0.0, probes=2, last_error=f"{MAINTENANCE} or busy: it answered 503")
    line = upgrading.down_line("Plex", 3)
    assert line.startswith(f"{MAINTENANCE} (it answers 503 Maintenance): Plex has not been answering since ")
    assert line.endswith("(2 probes); 3 scenes waiting") and upgrading.in_maintenance
    assert MAINTENANCE not in BreakerState("open", opened_at=0.0, last_error="Plex answered 502").down_line("Plex", 3)


def test_the_down_line_says_since_when_how_many_probes_and_what_waits():
    line = BreakerState("open", opened_at=0.0, probes=4).down_line("Plex", 1500)
    assert line.startswith("Plex has not been answering since ") and line.endswith("(4 probes); 1,500 scenes waiting")
