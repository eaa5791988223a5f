"""A run's threads take turns on its one database connection: re-entrant for the holder,
handed over while the holder waits (``waiting``), never two holders at once."""

import threading

from apps.applications.workflow.shared_connection import Turns


def test_a_holder_takes_its_turn_again_without_waiting():
    turns = Turns()
    turns.take()
    turns.take()
    turns.give()
    other = threading.Thread(target=turns.take)
    other.start()
    other.join(0.2)
    assert other.is_alive(), "another thread got the turn while its holder still held it"
    turns.give()
    other.join(2)
    assert not other.is_alive()


def test_a_holder_that_waits_lets_another_thread_in_and_gets_its_turn_back():
    turns = Turns()
    turns.take()
    inside = threading.Event()
    order: list[str] = []

    def other() -> None:
        turns.take()
        inside.set()
        order.append("other")
        turns.give()

    with turns.set_aside():
        thread = threading.Thread(target=other)
        thread.start()
        assert inside.wait(2), "the other thread did not get the turn set aside"
        thread.join(2)
    order.append("holder")
    turns.give()
    assert order == ["other", "holder"]


def test_setting_aside_a_turn_not_held_changes_nothing():
    turns = Turns()
    with turns.set_aside():
        turns.take()
        turns.give()
    turns.take()
    turns.give()
