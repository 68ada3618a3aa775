import pytest

from ansible_collections.kubernaut.devinfra.plugins.module_utils.wait import NotReady, WaitTimeout, wait_until
from clock_double import FakeClock


def test_returns_as_soon_as_ready():
    clock = FakeClock()
    answers = iter([NotReady("starting"), NotReady("starting"), "ok"])

    def probe():
        value = next(answers)
        if isinstance(value, Exception):
            raise value
        return value

    result = wait_until(probe, 10, "thing", clock=clock.clock, sleep=clock.sleep)
    assert result.value == "ok" and result.attempts == 3
    assert clock.sleeps[0] == pytest.approx(0.02)
    assert result.elapsed_ms < 200


def test_timeout_names_elapsed_attempts_and_last_error():
    clock = FakeClock()

    def probe():
        raise NotReady("connection refused")

    with pytest.raises(WaitTimeout) as err:
        wait_until(probe, 2, "PostgreSQL on 127.0.0.1:5432", clock=clock.clock, sleep=clock.sleep, hint="Check logs.")
    text = str(err.value)
    assert "2.0 s" in text and "connection refused" in text and "Check logs." in text
    assert err.value.details["attempts"] > 5


def test_interval_backs_off_to_a_ceiling():
    clock = FakeClock()

    def probe():
        raise NotReady("no")

    with pytest.raises(WaitTimeout):
        wait_until(probe, 5, "x", clock=clock.clock, sleep=clock.sleep)
    assert max(clock.sleeps) <= 0.05


def test_transient_exceptions_are_retried_others_are_not():
    clock = FakeClock()
    calls = []

    def probe():
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionRefusedError("refused")
        raise ValueError("bug")

    with pytest.raises(ValueError):
        wait_until(probe, 5, "x", transient=(OSError,), clock=clock.clock, sleep=clock.sleep)
    assert len(calls) == 2


def test_negative_timeout_is_refused():
    with pytest.raises(Exception):
        wait_until(lambda: 1, -1, "x")


def test_a_larger_interval_is_kept():
    clock = FakeClock()

    def probe():
        raise NotReady("no")

    with pytest.raises(WaitTimeout):
        wait_until(probe, 5, "x", interval=1.0, clock=clock.clock, sleep=clock.sleep)
    assert min(clock.sleeps[:-1]) == pytest.approx(1.0)
