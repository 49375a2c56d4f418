"""What the worker writes: one embedding per message at its current version, each text
encoded once, edits while a job is queued or running, deleted messages, bad payloads."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from worker_support import (
    FakeEmbedder,
    conversations,
    edit,
    embeddings,
    enqueue,
    fake_vector,
    inputs,
    job_counts,
    jobs,
    messages,
    store,
    wait_until,
)

from dovos.repositories.jobs import EMBED_MESSAGE, embed_dedupe_key
from dovos.worker import Worker


def _worker(database, embedder, **options):  # type: ignore[no-untyped-def]
    options = {"lease_seconds": 10, "progress": False, "concurrency": 1, **options}
    return Worker(database, embedder=embedder, **options)


def _assert_current(database, model: str) -> None:  # type: ignore[no-untyped-def]
    """Every message has exactly one embedding, of its current version and text."""
    stored = embeddings(database, model)
    current = inputs(database)
    assert set(stored) == set(current)
    for message_id, (version, text) in current.items():
        assert stored[message_id][0] == version
        np.testing.assert_allclose(stored[message_id][1], fake_vector(text), atol=1e-6)


def test_drains_the_queue_encoding_each_text_once(database) -> None:
    store(database, conversations(300))
    embedder = FakeEmbedder()
    stats = _worker(database, embedder, batch_size=64).run(until_empty=True)
    _assert_current(database, embedder.name)
    assert set(embedder.encoded.values()) == {1} and len(embedder.encoded) == 300
    assert job_counts(database) == {"pending": 0, "running": 0, "completed": 300, "failed": 0}
    assert (stats.jobs_completed, stats.messages_embedded, stats.batches) == (300, 300, 5)
    assert stats.state == "stopped"


def test_job_for_an_embedded_version_completes_without_encoding(database) -> None:
    store(database, conversations(5))
    embedder = FakeEmbedder()
    _worker(database, embedder).run(until_empty=True)
    ids = list(messages(database))
    for message_id in ids:  # e.g. a second enqueue of the same version
        enqueue(database, {"message_id": str(message_id), "version": 1},
                dedupe_key=embed_dedupe_key(message_id), kind=EMBED_MESSAGE)
    stats = _worker(database, embedder).run(until_empty=True)
    assert (stats.jobs_completed, stats.messages_embedded, stats.messages_skipped) == (5, 0, 5)
    assert sum(embedder.encoded.values()) == 5  # nothing encoded the second time
    assert job_counts(database)["completed"] == 10


def test_edit_while_queued_embeds_only_the_new_version(database) -> None:
    parsed = conversations(4, per_conversation=4)
    store(database, parsed)
    edit(database, parsed, {(0, 1): "the edited second message"})
    assert job_counts(database)["pending"] == 4  # the pending job took the new version
    embedder = FakeEmbedder()
    _worker(database, embedder).run(until_empty=True)
    _assert_current(database, embedder.name)
    assert embedder.count(parsed[0].messages[1].content) == 0
    assert embedder.count("the edited second message") == 1


def test_edit_while_running_ends_with_the_new_version(database) -> None:
    """The edit lands after the worker read the old text and before it writes: the old
    vector is written, and the job the edit enqueued replaces it."""
    parsed = conversations(3, per_conversation=3)
    store(database, parsed)
    old = parsed[0].messages[2].content
    hook_ran = threading.Event()

    def edit_now() -> None:
        edit(database, parsed, {(0, 2): "new text written while the old one was encoding"})
        hook_ran.set()

    embedder = FakeEmbedder(on_text={old: edit_now})
    _worker(database, embedder).run(until_empty=True)
    assert hook_ran.is_set()
    _assert_current(database, embedder.name)
    assert embedder.count(old) == 1
    assert embedder.count("new text written while the old one was encoding") == 1
    assert job_counts(database) == {"pending": 0, "running": 0, "completed": 4, "failed": 0}


def test_edit_of_a_turn_re_embeds_the_turn_after_it(database) -> None:
    """The next turn's input holds the edited turn as context: it is re-embedded once,
    and the turn after that (whose context did not change) is not."""
    parsed = conversations(3, per_conversation=3)
    store(database, parsed)
    embedder = FakeEmbedder()
    _worker(database, embedder).run(until_empty=True)
    edit(database, parsed, {(0, 0): "an edited first question"})
    stats = _worker(database, embedder).run(until_empty=True)
    assert (stats.jobs_completed, stats.messages_embedded) == (2, 2)
    _assert_current(database, embedder.name)  # message 1's vector is of its new input
    assert embedder.count(parsed[0].messages[1].content) == 2
    assert embedder.count(parsed[0].messages[2].content) == 1


def test_an_older_version_never_overwrites_a_newer_embedding(database) -> None:
    """Worker A encodes version 1 slowly; meanwhile the message is edited and worker B
    embeds version 2. A's late write of version 1 must not replace it."""
    parsed = conversations(1, per_conversation=1)
    store(database, parsed)
    old, new = parsed[0].messages[0].content, "version two of the message"
    fast = FakeEmbedder()

    def edit_and_let_b_embed() -> None:
        edit(database, parsed, {(0, 0): new})
        handle = _worker(database, fast).start_in_background()
        wait_until(lambda: embeddings(database, fast.name).get(message_id, (0,))[0] == 2, 20)
        handle.stop()
        handle.join()

    message_id = next(iter(messages(database)))
    slow = FakeEmbedder(on_text={old: edit_and_let_b_embed})  # same model name as `fast`
    _worker(database, slow).run(until_empty=True)
    assert slow.count(old) == 1 and fast.count(new) == 1
    _assert_current(database, fast.name)


def test_job_of_a_deleted_message_completes_without_work(database) -> None:
    store(database, conversations(3, per_conversation=3))
    with database.connect(autocommit=True) as connection:
        connection.execute("DELETE FROM conversations")
    embedder = FakeEmbedder()
    stats = _worker(database, embedder).run(until_empty=True)
    assert sum(embedder.encoded.values()) == 0
    assert (stats.jobs_completed, stats.messages_skipped) == (3, 3)
    assert job_counts(database)["completed"] == 3


def test_a_job_without_a_message_id_fails_with_a_clear_error(database) -> None:
    enqueue(database, {"message": "oops"}, max_attempts=1, kind=EMBED_MESSAGE)
    _worker(database, FakeEmbedder()).run(until_empty=True)
    [job] = jobs(database)
    assert job["status"] == "failed"
    assert "payload has no valid message_id" in job["last_error"]


def test_an_embedder_of_the_wrong_dimension_is_refused_before_claiming(database) -> None:
    store(database, conversations(2))
    embedder = FakeEmbedder()
    embedder.dim = 768
    with pytest.raises(ValueError, match="768-dimensional"):
        _worker(database, embedder).run(until_empty=True)
    assert job_counts(database)["pending"] == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [({"batch_size": 0}, "batch_size"), ({"concurrency": 0}, "concurrency"),
     ({"lease_seconds": 2, "heartbeat_seconds": 3}, "shorter than lease_seconds")],
)
def test_invalid_options_are_named(database, options, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        Worker(database, embedder=FakeEmbedder(), **options)
