"""Query parsing: every odd input becomes a safe tsquery text or a clear error."""

from __future__ import annotations

import re

import pytest

from dovos.search.query import MAX_QUERY_CHARS, MAX_TERMS, parse_query
from dovos.search.types import InvalidQueryError

SAFE_TSQUERY = re.compile(r"^[\w\s'()|&!<>-]*$", re.UNICODE)


def test_natural_question_becomes_or_of_words() -> None:
    parsed = parse_query("When did Caroline go to the support group?")
    assert parsed.terms == ("when", "did", "caroline", "go", "to", "the", "support", "group")
    assert parsed.tsquery("or") == (
        "('when' | 'did' | 'caroline' | 'go' | 'to' | 'the' | 'support' | 'group')"
    )
    assert parsed.tsquery("and").count("&") == 7


def test_possessives_and_apostrophes() -> None:
    parsed = parse_query("Caroline's dog didn’t bark")
    assert parsed.terms == ("caroline", "dog", "didnt", "bark")


def test_quoted_phrase_is_required_and_exclusions_are_negated() -> None:
    parsed = parse_query('"support group" meeting -painting -"art class"')
    assert parsed.phrases == ("support group",)
    assert parsed.terms == ("meeting",)
    assert parsed.excluded == ("art class", "painting")
    assert parsed.tsquery() == (
        "('meeting') & ('support' <-> 'group') & !('art' <-> 'class') & !('painting')"
    )


def test_hyphenated_word_is_not_an_exclusion() -> None:
    parsed = parse_query("well-known self-care")
    assert parsed.excluded == ()
    assert parsed.terms == ("well", "known", "self", "care")


@pytest.mark.parametrize(
    "raw",
    [
        "cat & dog | !mouse",
        "(a | b) <-> c:* ",
        "back\\slash \\' '\\\\",
        "it's 'quoted' \"unbalanced",
        "foo:* & !bar <2> baz",
        "émoji 🎉 café ☕",
        "Дом и кот",  # non-English text
        "東京 タワー",
        "x" * 50,
    ],
)
def test_operators_quotes_and_unicode_never_reach_the_tsquery_structure(raw: str) -> None:
    parsed = parse_query(raw)
    tsquery = parsed.tsquery()
    assert SAFE_TSQUERY.match(tsquery), tsquery
    for term in parsed.terms:
        assert re.fullmatch(r"\w+", term), term
        assert "_" not in term


def test_stopwords_only_still_parses() -> None:
    parsed = parse_query("the of and to")
    assert parsed.terms == ("the", "of", "and", "to")  # PostgreSQL drops them, not Python


@pytest.mark.parametrize("raw", ["", "   ", "\n\t", "\x00"])
def test_empty_query_is_a_clear_error(raw: str) -> None:
    with pytest.raises(InvalidQueryError, match="empty"):
        parse_query(raw)


@pytest.mark.parametrize("raw", ["& | !", "🎉🎉", "((()))", "-"])
def test_query_without_letters_is_a_clear_error(raw: str) -> None:
    with pytest.raises(InvalidQueryError, match="no letters or digits"):
        parse_query(raw)


def test_only_exclusions_is_a_clear_error() -> None:
    with pytest.raises(InvalidQueryError, match="only excludes"):
        parse_query("-cats -dogs")


def test_non_text_query_is_rejected() -> None:
    with pytest.raises(InvalidQueryError, match="must be text"):
        parse_query(None)  # type: ignore[arg-type]


def test_very_long_query_is_cut_and_capped() -> None:
    words = " ".join(f"word{i}" for i in range(3000))
    parsed = parse_query(words)
    assert len(parsed.text) == MAX_QUERY_CHARS
    assert len(parsed.terms) == MAX_TERMS
    assert any("cut" in note for note in parsed.notes)
    assert len(parsed.embedding_text) <= 2000
