"""kit.polling: waits on a FakeClock; only the tests about threads let real time pass."""

from __future__ import annotations

import threading

import pytest

from kit import polling
from kit.errors import CheckFailed, InvalidInput
from kit.polling import FakeClock


def answers_on(call: int):
    """A condition that is falsy until its ``call``-th call, then returns that call's number."""
    calls = []

    def condition() -> int | None:
        calls.append(len(calls) + 1)
        return calls[-1] if calls[-1] >= call else None

    condition.calls = calls
    return condition


def test_returns_the_conditions_value_as_soon_as_it_is_truthy():
    clock = FakeClock()
    condition = answers_on(3)
    assert polling.wait_until(condition, 10, 0.5, clock=clock, sleep=clock.sleep) == 3
    assert condition.calls == [1, 2, 3]
    assert clock.slept == [0.5, 0.5]


def test_a_condition_true_at_once_never_sleeps():
    clock = FakeClock()
    assert polling.wait_until(lambda: "ready", 0, clock=clock, sleep=clock.sleep) == "ready"
    assert clock.slept == []


def test_times_out_after_exactly_the_timeout_with_a_last_look_at_the_deadline():
    clock = FakeClock(t=100.0)
    condition = answers_on(1_000)
    assert polling.wait_until(condition, 1.0, 0.375, clock=clock, sleep=clock.sleep) is None
    assert clock() == 101.0
    assert clock.slept == [0.375, 0.375, 0.25]  # the last pause is cut to end at the deadline
    assert len(condition.calls) == 4  # at 0, 0.375, 0.75 and at the deadline


def test_a_zero_timeout_asks_once():
    clock = FakeClock()
    condition = answers_on(2)
    assert polling.wait_until(condition, 0, clock=clock, sleep=clock.sleep) is None
    assert condition.calls == [1] and clock.slept == []


def test_a_slow_condition_uses_up_the_timeout_too():
    clock = FakeClock()

    def slow() -> bool:
        clock.advance(3)
        return False

    assert polling.wait_until(slow, 5, 1, clock=clock, sleep=clock.sleep) is None
    assert clock.slept == [1]  # 3 s asking, 1 s pause, 3 s asking: past the deadline, no pause more
    assert clock() == 7


def test_backoff_multiplies_the_pause_up_to_its_ceiling():
    clock = FakeClock()
    polling.wait_until(answers_on(1_000), 10, 0.25, backoff=2, max_interval=2, clock=clock, sleep=clock.sleep)
    assert clock.slept == [0.25, 0.5, 1, 2, 2, 2, 2, 0.25]
    assert sum(clock.slept) == 10


def test_wait_for_returns_the_value_or_raises_with_the_description():
    clock = FakeClock()
    assert polling.wait_for(answers_on(2), 5, describe="never", clock=clock, sleep=clock.sleep) == 2
    with pytest.raises(CheckFailed, match=r"^the shop did not answer within 5 s$"):
        polling.wait_for(lambda: False, 5, describe="the shop did not answer within 5 s", clock=clock,
                         sleep=clock.sleep)


def test_a_described_callable_tells_what_the_last_look_saw():
    clock = FakeClock()
    seen = []

    def look() -> bool:
        seen.append(f"look {len(seen) + 1}")
        return False

    with pytest.raises(CheckFailed, match=r"^last: look 3$"):
        polling.wait_for(look, 1, 0.5, describe=lambda: f"last: {seen[-1]}", clock=clock, sleep=clock.sleep)


def test_a_condition_that_raises_ends_the_wait_with_its_error():
    def broken() -> bool:
        raise CheckFailed("Prometheus rejected the query")

    with pytest.raises(CheckFailed, match="rejected"), polling.simulated() as clock:
        polling.wait_until(broken, 10)
    assert clock.slept == []


@pytest.mark.parametrize("arguments, field", [
    ({"timeout": -1}, "timeout"), ({"timeout": 1, "interval": 0}, "interval"),
    ({"timeout": 1, "backoff": 0.5}, "backoff"),
])
def test_bad_timing_is_refused_naming_the_argument(arguments, field):
    with pytest.raises(InvalidInput) as error:
        polling.wait_until(lambda: True, **arguments)
    assert error.value.field == field


def test_simulated_runs_the_waits_of_this_thread_on_a_fake_clock():
    with polling.simulated(FakeClock(t=50.0)) as clock:
        assert polling.wait_until(lambda: False, 60, 0.25) is None
    assert clock() == 110.0 and set(clock.slept) == {0.25}


def test_simulated_leaves_other_threads_on_real_time():
    results: list[object] = []
    with polling.simulated() as clock:
        other = threading.Thread(target=lambda: results.append(polling.wait_until(lambda: False, 0.01, 0.005)))
        other.start()
        other.join(30)
    assert results == [None] and clock.slept == [] and clock() == 0.0


def test_every_calls_now_then_after_each_pause_until_stopped():
    clock, stop, calls = FakeClock(), threading.Event(), []

    def action() -> None:
        calls.append(clock())
        if len(calls) == 3:
            stop.set()

    polling.every(0.5, action, stop=stop, sleep=clock.sleep)
    assert calls == [0.0, 0.5, 1.0]
    assert clock.slept == [0.5, 0.5]


def test_every_ends_mid_pause_when_another_thread_stops_it():
    stop, calls = threading.Event(), []
    ticker = threading.Thread(target=polling.every, args=(3600, lambda: calls.append(1)), kwargs={"stop": stop})
    ticker.start()
    assert polling.wait_until(lambda: calls, 30)
    stop.set()
    ticker.join(30)
    assert not ticker.is_alive() and calls == [1]
