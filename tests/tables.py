"""The tables a test can fill, emptied between tests by every database fixture.

embedding_models is not listed: its rows name the per-model HNSW indexes the migrations
created, so emptying it would orphan them.
"""

TABLES = (
    "conversations, messages, message_embeddings, jobs, settings, worker_heartbeats, "
    "lexeme_champions, lexeme_champion_lists, lexeme_champion_state"
)
