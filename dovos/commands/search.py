"""`dovos search "query"`: the SearchService from the command line, as a table or JSON."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime
from typing import Any

import typer

from dovos.search.types import MODES, InvalidQueryError, SearchFilters, SearchResponse


def register(app: typer.Typer) -> None:
    """Add `search` to the `dovos` command."""
    app.command("search")(search_command)


def search_command(
    query: str = typer.Argument(..., help="Words, \"quoted phrases\" and -exclusions."),
    mode: str = typer.Option("hybrid", "--mode", "-m", help="hybrid, lexical or vector."),
    k: int = typer.Option(10, "-k", "--limit", help="How many messages to show."),
    source: list[str] = typer.Option(  # noqa: B008 - typer's way to declare options
        None, "--source", help="Only this source (repeatable)."
    ),
    role: list[str] = typer.Option(  # noqa: B008
        None, "--role", help="Only this role (repeatable)."
    ),
    conversation: list[str] = typer.Option(  # noqa: B008
        None, "--conversation", help="Conversation id."
    ),
    date_from: datetime = typer.Option(  # noqa: B008
        None, "--from", help="Messages created at or after."
    ),
    date_to: datetime = typer.Option(  # noqa: B008
        None, "--to", help="Messages created at or before."
    ),
    meta: list[str] = typer.Option(  # noqa: B008
        None, "--meta", help="Conversation metadata KEY=VALUE that must match (repeatable)."
    ),
    param: list[str] = typer.Option(  # noqa: B008
        None, "--param", help="Override a search parameter, NAME=VALUE (repeatable)."
    ),
    model: str = typer.Option(
        None, "--model", help="Embedding model whose vectors rank (default: the first "
        "configured, DOVOS_EMBEDDING_MODEL); see `dovos models`."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Rank messages for QUERY and print them (best first)."""
    from dovos.commands.output import emit_json, fail

    if mode not in MODES:
        fail(f"--mode {mode!r} is not one of {', '.join(MODES)}")
    try:
        filters = _filters(source, role, conversation, date_from, date_to, meta)
        response = run_search(query, mode=mode, k=k, filters=filters, params=_params(param),
                              model=model)
    except InvalidQueryError as error:
        fail(str(error))
        return
    if as_json:
        emit_json(response_as_dict(response))
    else:
        print_response(response)


def run_search(query: str, **options: Any) -> SearchResponse:
    """What the command runs: open the database, search, return the response. With
    DOVOS_SEARCH_DATABASE_URL set the search reads that (read-only) server instead."""
    from dovos.db.database import search_database
    from dovos.search.service import SearchService

    return SearchService(search_database()).search(query, **options)


def response_as_dict(response: SearchResponse) -> dict[str, Any]:
    """JSON-ready form of a response (UUIDs and dates become strings when printed)."""
    value = asdict(response)
    for hit in value["hits"]:
        hit.pop("content", None)  # the snippet is what a terminal needs
    return value


def print_response(response: SearchResponse) -> None:
    """A readable table: rank, score, each leg's rank, role, conversation, snippet."""
    typer.echo(
        f"{len(response.hits)} hits for {response.query!r} "
        f"({response.effective_mode}, {response.elapsed_ms:.0f} ms)"
    )
    for note in response.notes:
        typer.secho(f"note: {note}", fg=typer.colors.YELLOW)
    if not response.hits:
        return
    typer.echo(f"{'#':>3} {'score':>8} {'lex':>4} {'vec':>4}  {'role':<9} {'conversation':<28} snippet")
    for hit in response.hits:
        title = (hit.conversation_title or hit.conversation_source_id)[:28]
        snippet = hit.snippet.replace("\n", " ")[:100]
        typer.echo(
            f"{hit.rank:>3} {hit.score:>8.4f} {_rank(hit.lexical_rank):>4} "
            f"{_rank(hit.vector_rank):>4}  {hit.role:<9} {title:<28} {snippet}"
        )


def _rank(value: int | None) -> str:
    return "-" if value is None else str(value)


def _filters(
    sources: list[str] | None,
    roles: list[str] | None,
    conversations: list[str] | None,
    date_from: datetime | None,
    date_to: datetime | None,
    meta: list[str] | None,
) -> SearchFilters | None:
    if not any([sources, roles, conversations, date_from, date_to, meta]):
        return None
    try:
        conversation_ids = tuple(uuid.UUID(c) for c in conversations) if conversations else None
    except ValueError as error:
        raise InvalidQueryError(f"--conversation is not a UUID: {error}") from error
    return SearchFilters(
        sources=tuple(sources) if sources else None,
        roles=tuple(roles) if roles else None,
        conversation_ids=conversation_ids,
        date_from=date_from,
        date_to=date_to,
        conversation_metadata=_pairs(meta, "--meta") if meta else None,
    )


def _params(pairs: list[str] | None) -> dict[str, Any] | None:
    if not pairs:
        return None
    return {name: _number(value) for name, value in _pairs(pairs, "--param").items()}


def _pairs(items: list[str], option: str) -> dict[str, str]:
    found = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidQueryError(f"{option} {item!r} is not NAME=VALUE")
        found[name.strip()] = value.strip()
    return found


def _number(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value
