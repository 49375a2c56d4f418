"""The demo dataset: a small archive in the three export formats plus labeled queries.

Everything is rendered from the hand-written script in `demo_content.py`, without
randomness, so running the generator again writes byte-identical files:

    python -m dovos.evaluation.demo   # rewrites dovos/data/demo/ and dovos/data/queries/demo/

    dovos/data/demo/chatgpt/conversations.json    ChatGPT data export (mapping tree)
    dovos/data/demo/claude/conversations.json     Anthropic export (chat_messages)
    dovos/data/demo/openwebui/chat-export.json    Open WebUI export (history tree + list)
    dovos/data/queries/demo/queries.jsonl, ...    the labeled queries (see querysets.py)

Message ids in the exports are "demo-<conversation key>-<turn:02d>", and the qrels use
exactly those ids, so the judgments hold whichever importer reads the files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dovos.evaluation.demo_content import CONVERSATIONS, QUERIES, DemoConversation
from dovos.evaluation.querysets import Query, QuerySet
from dovos.resources import demo_archive_dir, demo_queryset_dir

DATA_DIR = demo_archive_dir()
QUERYSET_DIR = demo_queryset_dir()
EXPORT_FILES = {
    "chatgpt": Path("chatgpt") / "conversations.json",
    "claude": Path("claude") / "conversations.json",
    "openwebui": Path("openwebui") / "chat-export.json",
}
MODELS = {"chatgpt": "gpt-4o", "claude": "claude-3-5-sonnet", "openwebui": "llama3.1:8b"}
TURN_GAP = timedelta(seconds=47)


def message_id(key: str, turn: int) -> str:
    """The export id (and source_message_id) of turn `turn` of conversation `key`."""
    return f"demo-{key}-{turn:02d}"


def conversation_id(key: str) -> str:
    return f"demo-{key}"


def _times(conversation: DemoConversation) -> list[datetime]:
    start = datetime.strptime(conversation.started, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    return [start + TURN_GAP * index for index in range(len(conversation.turns))]


def _role(turn: int) -> str:
    return "user" if turn % 2 == 0 else "assistant"


# -- ChatGPT --------------------------------------------------------------------------------
def chatgpt_export(conversations: list[DemoConversation]) -> list[dict[str, Any]]:
    """A ChatGPT `conversations.json`: one mapping tree per conversation, root first."""
    return [_chatgpt_conversation(c) for c in conversations]


def _chatgpt_conversation(conversation: DemoConversation) -> dict[str, Any]:
    times = _times(conversation)
    root, system = (
        f"{conversation_id(conversation.key)}-root",
        f"{conversation_id(conversation.key)}-sys",
    )
    ids = [message_id(conversation.key, i) for i in range(len(conversation.turns))]
    chain = [root, system, *ids]
    mapping: dict[str, Any] = {}
    for index, node in enumerate(chain):
        parent = chain[index - 1] if index else None
        children = [chain[index + 1]] if index + 1 < len(chain) else []
        mapping[node] = {"id": node, "message": None, "parent": parent, "children": children}
    mapping[system]["message"] = _chatgpt_message(system, "system", "", None, hidden=True)
    for turn, (node, text) in enumerate(zip(ids, conversation.turns, strict=True)):
        mapping[node]["message"] = _chatgpt_message(
            node, _role(turn), text, times[turn].timestamp()
        )
    return {
        "title": conversation.title,
        "create_time": times[0].timestamp(),
        "update_time": times[-1].timestamp(),
        "mapping": mapping,
        "moderation_results": [],
        "current_node": ids[-1],
        "plugin_ids": None,
        "conversation_id": conversation_id(conversation.key),
        "conversation_template_id": None,
        "gizmo_id": None,
        "is_archived": False,
        "safe_urls": [],
        "default_model_slug": MODELS["chatgpt"],
        "id": conversation_id(conversation.key),
    }


def _chatgpt_message(
    node: str, role: str, text: str, created: float | None, *, hidden: bool = False
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"is_visually_hidden_from_conversation": True} if hidden else {}
    if role == "assistant":
        metadata = {"model_slug": MODELS["chatgpt"], "finish_details": {"type": "stop"}}
    return {
        "id": node,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": created,
        "update_time": None,
        "content": {"content_type": "text", "parts": [text]},
        "status": "finished_successfully",
        "end_turn": True if role == "assistant" else None,
        "weight": 1.0,
        "metadata": metadata,
        "recipient": "all",
        "channel": None,
    }


# -- Claude ---------------------------------------------------------------------------------
def claude_export(conversations: list[DemoConversation]) -> list[dict[str, Any]]:
    """An Anthropic `conversations.json`: chat_messages with text and content blocks."""
    return [_claude_conversation(c) for c in conversations]


def _claude_conversation(conversation: DemoConversation) -> dict[str, Any]:
    times = [_iso(t) for t in _times(conversation)]
    messages = []
    for turn, text in enumerate(conversation.turns):
        messages.append(
            {
                "uuid": message_id(conversation.key, turn),
                "text": text,
                "content": [
                    {
                        "start_timestamp": times[turn],
                        "stop_timestamp": times[turn],
                        "type": "text",
                        "text": text,
                        "citations": [],
                    }
                ],
                "sender": "human" if _role(turn) == "user" else "assistant",
                "created_at": times[turn],
                "updated_at": times[turn],
                "attachments": [],
                "files": [],
            }
        )
    return {
        "uuid": conversation_id(conversation.key),
        "name": conversation.title,
        "summary": "",
        "created_at": times[0],
        "updated_at": times[-1],
        "account": {"uuid": "demo-account"},
        "chat_messages": messages,
    }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- Open WebUI -----------------------------------------------------------------------------
def openwebui_export(conversations: list[DemoConversation]) -> list[dict[str, Any]]:
    """An Open WebUI chat export: each chat's history tree, its message list, timestamps in s."""
    return [_openwebui_chat(c) for c in conversations]


def _openwebui_chat(conversation: DemoConversation) -> dict[str, Any]:
    times = [int(t.timestamp()) for t in _times(conversation)]
    ids = [message_id(conversation.key, i) for i in range(len(conversation.turns))]
    messages = []
    for turn, text in enumerate(conversation.turns):
        message: dict[str, Any] = {
            "id": ids[turn],
            "parentId": ids[turn - 1] if turn else None,
            "childrenIds": [ids[turn + 1]] if turn + 1 < len(ids) else [],
            "role": _role(turn),
            "content": text,
            "timestamp": times[turn],
        }
        if _role(turn) == "assistant":
            message.update(
                {
                    "model": MODELS["openwebui"],
                    "modelName": MODELS["openwebui"],
                    "modelIdx": 0,
                    "done": True,
                }
            )
        messages.append(message)
    chat_id = conversation_id(conversation.key)
    return {
        "id": chat_id,
        "user_id": "demo-user",
        "title": conversation.title,
        "updated_at": times[-1],
        "created_at": times[0],
        "share_id": None,
        "archived": False,
        "pinned": False,
        "meta": {"tags": []},
        "folder_id": None,
        "chat": {
            "id": chat_id,
            "title": conversation.title,
            "models": [MODELS["openwebui"]],
            "params": {},
            "history": {"messages": {m["id"]: m for m in messages}, "currentId": ids[-1]},
            "messages": messages,
            "tags": [],
            "timestamp": times[0] * 1000,
            "files": [],
        },
    }


# -- query set ------------------------------------------------------------------------------
def demo_queryset() -> QuerySet:
    """The labeled demo queries (message level; doc ids are export message ids)."""
    known = {c.key: len(c.turns) for c in CONVERSATIONS}
    queries, qrels = [], {}
    for query in QUERIES:
        judgments = {}
        for reference, relevance in query.relevant.items():
            key, turn = reference.split(":")
            if key not in known or not 0 <= int(turn) < known[key]:
                raise ValueError(
                    f"demo query {query.id}: judged message {reference!r} does not exist"
                )
            judgments[message_id(key, int(turn))] = relevance
        queries.append(Query(query.id, query.text, query.category))
        qrels[query.id] = judgments
    return QuerySet(
        name="demo",
        queries=queries,
        qrels=qrels,
        level="message",
        description="Hand-written queries over the demo archive (dovos/data/demo), five categories.",
    )


def write_demo(data_dir: Path = DATA_DIR, queryset_dir: Path = QUERYSET_DIR) -> list[Path]:
    """Render the demo archive and its query set; return the files written."""
    renderers = {"chatgpt": chatgpt_export, "claude": claude_export, "openwebui": openwebui_export}
    written = []
    for source, relative in EXPORT_FILES.items():
        path = data_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        export = renderers[source]([c for c in CONVERSATIONS if c.source == source])
        path.write_text(json.dumps(export, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    directory = demo_queryset().save(queryset_dir)
    written.extend(sorted(directory.iterdir()))
    return written


def export_paths(data_dir: Path = DATA_DIR) -> list[Path]:
    """The three demo export files (as committed in the repository)."""
    return [data_dir / relative for relative in EXPORT_FILES.values()]


if __name__ == "__main__":  # pragma: no cover - regeneration entry point
    for written_path in write_demo():
        print(written_path)
