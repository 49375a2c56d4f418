"""What the worker embeds: each message with the end of the previous turn as context."""

from __future__ import annotations

from search_support import handmade

from dovos.importers.parsed import ParsedConversation, ParsedMessage
from dovos.ingest import ingest
from dovos.search.document_text import PREVIOUS_TURN_CHARS, fetch_embedding_inputs


def test_message_is_embedded_after_the_previous_turn(database) -> None:  # type: ignore[no-untyped-def]
    long_turn = "x" * 2000 + " tail of the long turn"
    parsed = handmade() + [ParsedConversation("chatgpt", "long", "long", [
        ParsedMessage("user", long_turn), ParsedMessage("assistant", "Short reply.")])]
    with database.connect() as conn:
        ingest(conn, parsed)
        rows = conn.execute("SELECT m.id, m.content, m.position, c.source_id FROM messages m "
                            "JOIN conversations c ON c.id = m.conversation_id").fetchall()
        with conn.cursor() as cursor:
            inputs = {item.message_id: item for item in fetch_embedding_inputs(cursor, [r[0] for r in rows])}
    texts = {mid: item.text for mid, item in inputs.items()}
    by_key = {(r[3], r[2]): (r[0], r[1]) for r in rows}
    first_id, first = by_key[("hand-1", 0)]
    second_id, second = by_key[("hand-1", 1)]
    assert texts[first_id] == first  # nothing before the first turn
    assert texts[second_id] == first + "\n" + second
    assert inputs[first_id].versions == (1, 0)  # no previous turn: context version 0
    assert inputs[second_id].versions == (1, 1)  # the previous turn is at version 1
    reply_id, _ = by_key[("long", 1)]
    context, reply = texts[reply_id].rsplit("\n", 1)
    assert reply == "Short reply." and len(context) == PREVIOUS_TURN_CHARS
    assert context.endswith("tail of the long turn")
    assert len(texts) == len(rows)
