"""The page store that workers share: whole pages or none, under threads and processes at
once, while generations change; bounded however many addresses are asked for."""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
from pathlib import Path

from kb.caching.store import COUNT_EVERY, PageStore

ADDRESSES = [f"/search?q=word{n}" for n in range(40)]
GENERATIONS = ["g1", "g2", "g3"]


def body(generation: str, address: str) -> bytes:
    # Large enough that a torn write would be caught: many blocks, each naming its page.
    return f"<p>{generation} {address}</p>\n".encode() * 2000


def make(folder: Path, **limits) -> PageStore:
    settings = {"max_pages": 1000, "max_page_bytes": 1 << 20, "seconds": 60} | limits
    return PageStore(folder, **settings)


def _hammer(folder: str, seed: int, seconds: float, problems) -> None:
    """Put and get random pages from a few threads; report any page that is not whole."""
    store = make(Path(folder))
    wrong: list[str] = []

    def work(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            generation, address = rng.choice(GENERATIONS), rng.choice(ADDRESSES)
            if rng.random() < 0.4:
                store.put(
                    generation, address, "text/html; charset=utf-8", body(generation, address)
                )
            else:
                found = store.get(generation, address)
                if found is not None and found != ("text/html; charset=utf-8",
                                                   body(generation, address)):  # fmt: skip
                    wrong.append(f"{generation} {address}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    problems.put(wrong)


def test_pages_are_whole_under_threads_and_processes_while_generations_change(tmp_path):
    context = multiprocessing.get_context("spawn")
    problems = context.Queue()
    processes = [
        context.Process(target=_hammer, args=(str(tmp_path), seed, 3.0, problems))
        for seed in range(3)
    ]
    for process in processes:
        process.start()
    _hammer(str(tmp_path), 99, 3.0, problems)  # and this process too
    wrong = [problems.get(timeout=60) for _ in range(len(processes) + 1)]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    assert wrong == [[]] * (len(processes) + 1)
    # Generations replaced one another: at most the ones still being written remain.
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) <= len(GENERATIONS)


def test_a_generation_holds_a_bounded_number_of_pages(tmp_path):
    store = make(tmp_path, max_pages=10)
    stored = sum(store.put("g", f"/search?q={n}", "text/html", b"page") for n in range(500))
    on_disk = len(list((tmp_path / "g").iterdir()))
    assert on_disk == stored <= 10 + COUNT_EVERY
    assert store.get("g", "/search?q=0") == ("text/html", b"page")


def test_old_big_and_odd_pages_are_misses(tmp_path):
    store = make(tmp_path, max_page_bytes=100, seconds=5)
    assert not store.put("g", "/big", "text/html", b"x" * 101)
    assert not store.put("g", "/odd\naddress", "text/html", b"x")
    assert store.put("g", "/old", "text/html", b"x")
    page = next((tmp_path / "g").iterdir())
    os.utime(page, (time.time() - 10, time.time() - 10))
    assert store.get("g", "/old") is None
    assert store.get("g", "/never-stored") is None
    assert store.get("other", "/old") is None


def test_a_new_generation_removes_older_ones(tmp_path):
    store = make(tmp_path)
    store.put("g1", "/", "text/html", b"one")
    store.put("g2", "/", "text/html", b"two")
    assert store.get("g1", "/") is None
    assert store.get("g2", "/") == ("text/html", b"two")
    assert [p.name for p in tmp_path.iterdir()] == ["g2"]
