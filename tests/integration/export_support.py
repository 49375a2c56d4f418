"""Small ChatGPT-format exports built in tests: one linear conversation per call."""

from __future__ import annotations

from typing import Any


def chatgpt_conversation(conversation_id: str, texts: list[str]) -> dict[str, Any]:
    """A ChatGPT export conversation whose turns alternate user/assistant, one per text."""
    mapping: dict[str, Any] = {}
    parent = None
    for index, text in enumerate(texts):
        node = f"{conversation_id}-{index}"
        mapping[node] = {"id": node, "parent": parent, "message": {
            "id": node, "author": {"role": "user" if index % 2 == 0 else "assistant"},
            "create_time": 1_700_000_000 + index,
            "content": {"content_type": "text", "parts": [text]}}}
        parent = node
    return {"id": conversation_id, "title": conversation_id, "mapping": mapping,
            "current_node": parent}
