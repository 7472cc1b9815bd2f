"""The processor's life cycle: build it, hand it the breakers, probe through it, pause, close.

A configuration error pauses the drainer: the processor is closed and built again from the
settings (they may have been fixed) after `pause_seconds`; the jobs stay queued. A factory that
fails because a server is down opens that server's breaker instead: building again is its probe
(and, as a build can do work of its own, the drainer waits for it even with nothing queued:
SyncWorker.should_exit).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional, Tuple

from common.errors import CONFIG
from common.log import get_logger
from worker.breaker import Breakers
from worker.policy import Action, RetryPolicy, user_message
from worker.protocol import Processor, ProcessorFactory
from worker.status_report import StatusReport

log = get_logger("worker")


class ProcessorSlot:
    def __init__(self, factory: ProcessorFactory, breakers: Breakers, report: StatusReport,
                 policy: RetryPolicy, pause_seconds: float) -> None:
        self.factory = factory
        self.breakers = breakers
        self.report = report
        self.policy = policy
        self.pause_seconds = pause_seconds
        self.processor: Optional[Processor] = None
        self.secrets: Tuple[str, ...] = ()
        self.paused_until: Optional[float] = None
        self.paused_since: Optional[float] = None  # when the current run of pauses began
        self.waiting_since: Optional[float] = None  # when building began to fail on a server that is down
        self._paused_at: Optional[float] = None  # when the latest pause began
        self._pause_message: Optional[str] = None

    def open(self, now: float) -> bool:
        """Build the processor; False when it could not be (paused, or a breaker is open)."""
        try:
            ready = self.factory()
        except Exception as exc:  # a wrong setting, a server that is down, or a bug
            decision = self.policy.decide_start(exc)
            if decision.action is Action.WAIT and decision.breaker is not None:
                self._hold(decision.breaker, exc, now)  # building again later is the probe
            else:
                if decision.scope != CONFIG:
                    log.error("could not build the processor", exc_info=True)
                self.pause(exc, now)
            return False
        self.processor = ready.processor
        self.waiting_since = None
        ready.processor.use_breakers(self.breakers)
        for scope, breaker in self.breakers.by_scope.items():
            if breaker.record_success():
                self.report.breaker(now, scope, True)
        self.secrets = self.report.secrets = tuple(secret for secret in ready.secrets if secret)
        self.policy = replace(self.policy, max_retries=ready.max_retries)
        if self._pause_message is not None:
            log.info("configuration works again; resuming")
            self._pause_message = self.paused_since = None
        self.report.config_error(None, now)
        return True

    def _hold(self, scope: str, error: BaseException, now: float) -> None:
        """Open `scope`'s breaker at once: no processor, so no request but the next build."""
        breaker = self.breakers.by_scope[scope]
        was_open = breaker.is_open
        self.waiting_since = self.waiting_since if self.waiting_since is not None else now
        while not breaker.record_failure(now, error):
            pass
        self.report.breaker(now, scope, was_open)

    def pause(self, error: BaseException, now: float) -> None:
        message = user_message(error, self.secrets)
        if message != self._pause_message:
            log.error("paused: %s (jobs stay queued; trying again every %gs)", message, self.pause_seconds)
            self.report.config_error(message, now)
        self._pause_message = message
        self.paused_since = self.paused_since if self.paused_since is not None else now
        self.paused_until = now + self.pause_seconds
        self._paused_at = now
        self.close()

    def pause_ends(self, now: float) -> Optional[float]:
        """While paused: when the pause ends; None once it is over, or once a task asked for the
        settings to be read again after the pause began (sync_queue.drainer_status.request_retry)."""
        if self.paused_until is not None and (now >= self.paused_until or self._retry_requested()):
            self.paused_until = None
        return self.paused_until

    def _retry_requested(self) -> bool:
        if self._paused_at is None or not self.report.retry_requested(self._paused_at):
            return False
        log.info("a task asked for the settings to be read again; trying now")
        return True

    def probe(self, scope: str, now: float) -> bool:
        """One probe of `scope`; True when the processor cannot probe (the next job is the probe)."""
        assert self.processor is not None
        breaker = self.breakers.by_scope[scope]
        try:
            if not self.processor.probe(scope):
                return True
        except Exception as exc:
            breaker.record_probe(False, now, exc)
        else:
            breaker.record_probe(True, now)
        self.report.breaker(now, scope, True)
        return False

    def close(self) -> None:
        processor, self.processor = self.processor, None
        if processor is not None:
            try:
                processor.close()
            except Exception:
                log.warning("processor close failed", exc_info=True)
