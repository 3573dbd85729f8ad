"""core.kept: the last few values by key (least recently used dropped first), thread-safe."""

from __future__ import annotations

import threading

import pytest

from vein2vein.core.kept import Kept


def test_least_recently_used_is_dropped_first() -> None:
    kept: Kept[str, int] = Kept(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a") == 1  # "a" is now the most recently used
    kept.put("c", 3)
    assert "b" not in kept and kept.get("a") == 1 and kept.get("c") == 3 and len(kept) == 2


def test_get_or_make_makes_once_per_key() -> None:
    kept: Kept[int, list[int]] = Kept(4)
    made: list[int] = []

    def make(n: int) -> list[int]:
        made.append(n)
        return [n]

    first = kept.get_or_make(1, lambda: make(1))
    assert kept.get_or_make(1, lambda: make(1)) is first and made == [1]
    kept.clear()
    assert kept.get_or_make(1, lambda: make(1)) == [1] and made == [1, 1]


def test_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Kept(0)


def test_many_threads_never_exceed_the_size() -> None:
    kept: Kept[int, int] = Kept(8)

    def work(offset: int) -> None:
        for i in range(2000):
            kept.put((offset + i) % 50, i)
            kept.get((offset + 3 * i) % 50)

    threads = [threading.Thread(target=work, args=(n * 7,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(kept) == 8


def test_threads_asking_at_once_wait_for_one_make() -> None:
    """Found under load (bench/pages_under_load.py): when a draft plan moved the audit head,
    every reader of the orders list computed the same list at once, on two cores."""
    kept: Kept[str, int] = Kept(4)
    made: list[int] = []
    started = threading.Event()
    release = threading.Event()

    def make() -> int:
        made.append(1)
        started.set()
        release.wait(5)
        return 42

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(kept.get_or_make("k", make)))
    first.start()
    assert started.wait(5)
    others = [
        threading.Thread(target=lambda: results.append(kept.get_or_make("k", make)))
        for _ in range(8)
    ]
    for t in others:
        t.start()
    # another key is not held up by the one being made
    assert kept.get_or_make("other", lambda: 7) == 7
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert results == [42] * 9 and len(made) == 1


def test_a_failed_make_lets_the_next_caller_try() -> None:
    kept: Kept[str, int] = Kept(4)

    def fail() -> int:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        kept.get_or_make("k", fail)
    assert kept.get_or_make("k", lambda: 1) == 1
