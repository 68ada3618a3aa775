# -*- coding: utf-8 -*-
# Copyright: kubernaut.devinfra contributors
# Apache License 2.0 (see LICENSE)
"""Readiness polling shared by every *_ready module and the kind waiter.

A probe is a callable that returns a value when the thing is ready and raises
``NotReady`` (or any exception listed as transient) when it is not yet. The
loop runs on a monotonic clock with a short interval and a deadline; the clock
and the sleeper are injectable so unit tests never sleep.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.kubernaut.devinfra.plugins.module_utils.errors import DevinfraError


DEFAULT_INTERVAL = 0.02
# bench/bench_readiness.py: with a 0.25 s ceiling PostgreSQL's readiness was
# seen 234 ms late at p95; with 0.05 s, 44 ms, and still no false positive.
MAX_INTERVAL = 0.05


class NotReady(Exception):
    """The probe ran and the answer was 'not yet'; the message says why."""


class WaitTimeout(DevinfraError):
    """The deadline passed; carries elapsed time, attempts and the last error."""


class WaitResult(object):
    def __init__(self, value, attempts, elapsed):
        self.value = value
        self.attempts = attempts
        self.elapsed = elapsed

    @property
    def elapsed_ms(self):
        return int(round(self.elapsed * 1000))


def wait_until(probe, timeout, what, interval=DEFAULT_INTERVAL, transient=(),
               clock=time.monotonic, sleep=time.sleep, hint=None):
    """Call ``probe()`` until it returns, or fail after ``timeout`` seconds.

    ``transient`` lists exception types that mean "not yet" besides NotReady.
    The interval grows gently (x1.5) from ``interval`` up to MAX_INTERVAL (or
    stays at ``interval`` when that is larger), so readiness is seen within
    ~50 ms while a slow start is probed at most ~20 times a second.
    """
    if timeout < 0:
        raise DevinfraError("wait_timeout must be zero or positive, got %r." % (timeout,))
    retry_on = (NotReady,) + tuple(transient)
    start = clock()
    deadline = start + timeout
    attempts = 0
    last_error = None
    delay = interval
    while True:
        attempts += 1
        try:
            value = probe()
        except retry_on as exc:  # pylint: disable=catching-non-exception
            last_error = "%s" % (exc,) or exc.__class__.__name__
        else:
            return WaitResult(value, attempts, clock() - start)
        now = clock()
        if now >= deadline:
            elapsed = now - start
            raise WaitTimeout(
                "%s was not ready after %.1f s (%d attempts); last error: %s"
                % (what, elapsed, attempts, last_error),
                hint=hint,
                elapsed_ms=int(round(elapsed * 1000)),
                attempts=attempts,
                last_error=last_error,
            )
        sleep(max(0.0, min(delay, deadline - now)))
        delay = min(delay * 1.5, max(interval, MAX_INTERVAL))
