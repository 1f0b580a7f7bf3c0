"""Progress of a long run (pipelines.observe.heartbeat): a line every so often naming the
step at work and since when, nothing for short work, nothing after the run, never data."""

from __future__ import annotations

import re
import threading
import time

import pytest

from pipelines import observe

LINE = re.compile(r"… läuft: (?P<busy>.+) \(Lauf seit \d+ s\)")
ALONE = re.compile(r"… der Lauf arbeitet seit \d+ s")


def _heartbeat_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lagebild-heartbeat"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4, "0 s"), (59.9, "59 s"), (60, "1:00 min"), (195.5, "3:15 min"), (3727, "1:02:07 h")],
)
def test_a_duration_reads_as_a_person_says_it(seconds, shown):
    assert observe.clock(seconds) == shown


def test_a_long_step_is_named_every_interval_with_its_time():
    lines: list[str] = []
    beat = observe.heartbeat(lines.append, {"marts": "Marts"}, every=0.05)
    with beat, observe.working("marts"):
        deadline = time.monotonic() + 10
        while len(lines) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(lines) >= 3
    for line in lines:
        match = LINE.fullmatch(line)
        assert match and re.fullmatch(r"Marts seit \d+ s", match["busy"]), line


def test_work_shorter_than_the_interval_says_nothing():
    lines: list[str] = []
    with observe.heartbeat(lines.append, {"marts": "Marts"}, every=5), observe.working("marts"):
        time.sleep(0.05)
    assert lines == []


def test_between_named_steps_the_line_names_the_run_only():
    lines: list[str] = []
    beat = observe.heartbeat(lines.append, {"marts": "Marts"}, every=0.05)
    with beat, observe.working("grid"):  # a stage without a label (nested in the publication)
        time.sleep(0.2)
    assert lines and all(ALONE.fullmatch(line) for line in lines)


def test_the_beat_ends_with_the_run_also_when_it_fails():
    lines: list[str] = []
    with pytest.raises(ValueError), observe.heartbeat(lines.append, {}, every=0.02):
        time.sleep(0.1)
        raise ValueError("Lauf fehlgeschlagen")
    assert not _heartbeat_threads()
    said = len(lines)
    time.sleep(0.1)
    assert len(lines) == said  # nothing said once the block is left


def test_a_step_running_twice_at_once_is_named_once_since_its_earliest_call():
    before_first = time.perf_counter()
    with observe.working("ingest"):
        before_second = time.perf_counter()
        second_entered, second_may_leave = threading.Event(), threading.Event()

        def second_call():
            with observe.working("ingest"):
                second_entered.set()
                second_may_leave.wait(5)

        other = threading.Thread(target=second_call)
        other.start()
        assert second_entered.wait(5)
        since = observe.running()
        assert list(since) == ["ingest"]
        assert before_first <= since["ingest"] <= before_second
    assert observe.running()["ingest"] >= before_second  # the second call, still running
    second_may_leave.set()
    other.join(5)
    assert "ingest" not in observe.running()


def test_steps_are_listed_in_the_order_they_began():
    lines: list[str] = []
    labels = {"checks": "Prüfregeln", "publish": "Veröffentlichung"}
    with observe.heartbeat(lines.append, labels, every=0.05), observe.working("publish"):
        time.sleep(0.01)
        with observe.working("checks"):
            time.sleep(0.2)
    both = [LINE.fullmatch(line)["busy"] for line in lines if ";" in line]
    assert both and all(
        re.fullmatch(r"Veröffentlichung seit \d+ s; Prüfregeln seit \d+ s", b) for b in both
    )


def test_a_failing_say_stops_the_lines_not_the_run(monkeypatch):
    calls, escaped = [], []
    monkeypatch.setattr(threading, "excepthook", escaped.append)  # what would be a traceback

    def say(line: str) -> None:
        calls.append(line)
        raise BrokenPipeError("der Leser ist weg")

    with observe.heartbeat(say, {}, every=0.02):
        time.sleep(0.2)
    assert len(calls) == 1  # tried once, then quiet
    assert not _heartbeat_threads()
    assert escaped == []


def test_a_stage_an_earlier_run_left_open_is_not_named():
    lines: list[str] = []
    left_open = observe.working("checks")
    left_open.__enter__()  # e.g. a check generator never finished
    try:
        time.sleep(0.01)
        with observe.heartbeat(lines.append, {"checks": "Prüfregeln"}, every=0.03):
            time.sleep(0.15)
    finally:
        left_open.__exit__(None, None, None)
    assert lines and all(ALONE.fullmatch(line) for line in lines)
