"""`dovos search`: a readable table, JSON, and clear errors for bad input."""

from __future__ import annotations

import json

from search_support import handmade
from typer.testing import CliRunner

from dovos.cli import app
from dovos.ingest import ingest

runner = CliRunner()


def _store(database) -> None:  # type: ignore[no-untyped-def]
    with database.connect() as conn:
        ingest(conn, handmade())


def test_table_output_with_fallback_note(database) -> None:  # type: ignore[no-untyped-def]
    _store(database)  # no embeddings yet: hybrid is ranked lexically, and says so
    result = runner.invoke(app, ["search", "When did Caroline go to the support group?", "-k", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    starts = [i for i, line in enumerate(lines) if "3 hits for" in line]
    assert starts, result.output
    start = starts[0]
    assert "(lexical," in lines[start]
    assert lines[start + 1].startswith("note:") and "ranked lexically" in lines[start + 1]
    assert lines[start + 2].split()[:4] == ["#", "score", "lex", "vec"]
    assert "Caroline: I went to a LGBTQ support group" in lines[start + 3]
    assert lines[start + 3].split()[2:4] == ["1", "-"]  # lexical rank 1, no vector rank


def test_json_output_and_filters(database) -> None:  # type: ignore[no-untyped-def]
    _store(database)
    result = runner.invoke(app, ["search", "support group", "--mode", "lexical", "--json",
                                 "--meta", "sample_id=s2", "--param", "context_weight=0"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["effective_mode"] == "lexical" and payload["params"]["context_weight"] == 0
    assert [hit["conversation_source_id"] for hit in payload["hits"]] == ["hand-2"]


def test_bad_input_is_a_clear_error(database) -> None:  # type: ignore[no-untyped-def]
    for args, message in (
        (["search", "   "], "query is empty"),
        (["search", "x", "--mode", "fuzzy"], "--mode"),
        (["search", "x", "--param", "candidates=0"], "candidates"),
        (["search", "x", "--meta", "novalue"], "NAME=VALUE"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
