"""LoCoMo (long-term conversational memory) as an archive plus labeled questions.

Each session of a sample becomes one archive conversation and each turn one message, so
the benchmark runs against exactly the path real exports take (ingest, worker, search).
Questions carry their evidence turns as qrels at message level (doc id = the message's
`source_message_id`, "<sample_id>:<dia_id>") and at conversation level (doc id = the
conversation's `source_id`, "<sample_id>:session_<n>").

Pure functions, no database: `load_locomo(path)` returns a `LocomoDataset`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dovos.importers.parsed import ParsedConversation, ParsedMessage

DATASET = "locomo"
SESSION_KEY = re.compile(r"^session_(\d+)$")
# Lenient: "D1:3", "D30:05" (leading zero), "D:11:26" (stray colon). Anything else is dropped.
EVIDENCE_ID = re.compile(r"^D:?(\d+):0*(\d+)$")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}


class LocomoFormatError(ValueError):
    """The file is not LoCoMo-shaped; the message names the file and the field."""


@dataclass(frozen=True)
class LocomoQuestion:
    """One question; `evidence` holds message doc ids ("<sample_id>:D<s>:<t>")."""

    query_id: str
    text: str
    category: int
    sample_id: str
    answer: str
    evidence: tuple[str, ...]


@dataclass
class LocomoDataset:
    """Conversations to ingest, questions, and their qrels at two levels."""

    conversations: list[ParsedConversation]
    questions: list[LocomoQuestion]
    message_qrels: dict[str, dict[str, int]]
    conversation_qrels: dict[str, dict[str, int]]
    skipped_questions: int = 0  # no usable evidence
    dropped_evidence: list[str] = field(default_factory=list)  # ids that name no turn

    @property
    def sample_ids(self) -> list[str]:
        return sorted({q.sample_id for q in self.questions})

    @property
    def message_count(self) -> int:
        return sum(len(c.messages) for c in self.conversations)


def load_locomo(
    path: str | Path, *, speaker_prefix: bool = True, captions: bool = True
) -> LocomoDataset:
    """Read a LoCoMo JSON file (e.g. locomo10_dev.json) into conversations and qrels.

    `speaker_prefix` writes turns as "<speaker>: <text>" and `captions` appends
    "[image: <caption>]" for shared photos, as the dataset README's reference protocol
    does: both put words the questions use (names, what a photo shows) into the text.
    """
    path = Path(path)
    try:
        samples = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LocomoFormatError(f"{path}: cannot read LoCoMo JSON: {error}") from error
    if not isinstance(samples, list):
        raise LocomoFormatError(f"{path}: expected a list of samples, got {type(samples).__name__}")
    dataset = LocomoDataset([], [], {}, {})
    for index, sample in enumerate(samples):
        _add_sample(dataset, path, index, sample, speaker_prefix, captions)
    return dataset


def parse_session_date(value: str) -> datetime | None:
    """'1:56 pm on 8 May, 2023' -> datetime(2023, 5, 8, 13, 56); None if unparseable."""
    text = " ".join(value.replace(",", " ").split()).lower()
    for pattern in ("%I:%M %p on %d %B %Y", "%I:%M %p on %d %b %Y", "%d %B %Y"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def normalize_evidence(raw: Any) -> list[str]:
    """Canonical dia ids ("D<s>:<t>") from one evidence entry, tolerating known faults."""
    found = []
    for part in re.split(r"[;,\s]+", str(raw)):
        match = EVIDENCE_ID.match(part.strip())
        if match:
            found.append(f"D{int(match.group(1))}:{int(match.group(2))}")
    return found


def message_text(turn: dict[str, Any], speaker_prefix: bool, captions: bool) -> str:
    """The archived text of one turn."""
    text = str(turn.get("text", ""))
    if speaker_prefix:
        text = f"{turn.get('speaker', '')}: {text}"
    caption = turn.get("blip_caption")
    if captions and caption:
        text = f"{text} [image: {caption}]"
    return text


def _field(sample: dict[str, Any], name: str, where: str) -> Any:
    if not isinstance(sample, dict) or name not in sample:
        raise LocomoFormatError(f"{where}: missing field {name!r}")
    return sample[name]


def _add_sample(
    dataset: LocomoDataset,
    path: Path,
    index: int,
    sample: Any,
    speaker_prefix: bool,
    captions: bool,
) -> None:
    where = f"{path}: sample {index}"
    sample_id = str(_field(sample, "sample_id", where))
    conversation = _field(sample, "conversation", where)
    speakers = (
        _field(conversation, "speaker_a", f"{where} conversation"),
        _field(conversation, "speaker_b", f"{where} conversation"),
    )
    turn_session: dict[str, str] = {}
    sessions = sorted(
        (int(m.group(1)), key) for key in conversation if (m := SESSION_KEY.match(key))
    )
    for number, key in sessions:
        parsed = _session(sample_id, speakers, number, conversation, key, speaker_prefix, captions)
        if parsed is None:
            continue
        dataset.conversations.append(parsed)
        for message in parsed.messages:
            turn_session[message.source_message_id or ""] = parsed.source_id
    for q_index, qa in enumerate(_field(sample, "qa", where)):
        _add_question(dataset, sample_id, q_index, qa, turn_session)


def _session(
    sample_id: str,
    speakers: tuple[str, str],
    number: int,
    conversation: dict[str, Any],
    key: str,
    speaker_prefix: bool,
    captions: bool,
) -> ParsedConversation | None:
    turns = conversation[key]
    if not isinstance(turns, list) or not turns:
        return None
    date_text = str(conversation.get(f"{key}_date_time", ""))
    created = parse_session_date(date_text)
    roles = {speakers[0]: "user", speakers[1]: "assistant"}
    messages = [
        ParsedMessage(
            role=roles.get(turn.get("speaker"), "user"),
            content=message_text(turn, speaker_prefix, captions),
            created_at=created,
            source_message_id=f"{sample_id}:{turn.get('dia_id')}",
            metadata=_turn_metadata(turn),
        )
        for turn in turns
    ]
    return ParsedConversation(
        source="unknown",
        source_id=f"{sample_id}:session_{number}",
        title=f"{speakers[0]} & {speakers[1]} — session {number}",
        messages=messages,
        created_at=created,
        metadata={
            "dataset": DATASET,
            "sample_id": sample_id,
            "session": number,
            "session_date": date_text,
        },
    )


def _turn_metadata(turn: dict[str, Any]) -> dict[str, Any]:
    metadata = {"speaker": turn.get("speaker"), "dia_id": turn.get("dia_id")}
    if turn.get("blip_caption"):
        metadata["blip_caption"] = turn["blip_caption"]
    return metadata


def _add_question(
    dataset: LocomoDataset,
    sample_id: str,
    q_index: int,
    qa: dict[str, Any],
    turn_session: dict[str, str],
) -> None:
    evidence: list[str] = []
    for raw in qa.get("evidence") or []:
        ids = normalize_evidence(raw)
        if not ids:
            dataset.dropped_evidence.append(f"{sample_id}:{raw}")
        for dia_id in ids:
            doc_id = f"{sample_id}:{dia_id}"
            if doc_id not in turn_session:
                dataset.dropped_evidence.append(doc_id)
            elif doc_id not in evidence:
                evidence.append(doc_id)
    if not evidence or not str(qa.get("question", "")).strip():
        dataset.skipped_questions += 1
        return
    query_id = f"{sample_id}:q{q_index}"
    answer = qa.get("answer", qa.get("adversarial_answer", ""))
    dataset.questions.append(
        LocomoQuestion(
            query_id=query_id,
            text=str(qa["question"]),
            category=int(qa.get("category", 0) or 0),
            sample_id=sample_id,
            answer=str(answer),
            evidence=tuple(evidence),
        )
    )
    dataset.message_qrels[query_id] = {doc: 1 for doc in evidence}
    sessions: dict[str, int] = defaultdict(int)
    for doc in evidence:
        sessions[turn_session[doc]] = 1
    dataset.conversation_qrels[query_id] = dict(sessions)
