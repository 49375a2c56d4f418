"""Champion lists: each common lexeme's best messages by BM25 term weight (issue 16).

The lexical leg scores its candidates exactly from their tsvectors (~10 µs each), so
on a large archive the candidate set is the cost. For a lexeme found in many messages
the messages that can rank high for it are few: those where it weighs most (term
frequency saturated, short messages favoured: BM25 without the idf, which is the same
for every message holding it). `lexeme_champions` keeps, for each lexeme with more
than `min_df` messages, its `depth` best such messages ("champion lists", Manning,
Raghavan & Schütze, Introduction to Information Retrieval, ch. 7.1.3); the lexical leg
takes its candidates for common query terms from there instead of the full-text index.
Rare lexemes have no list: their full-text postings are few and read whole.

The lists are rebuilt as a batch (`dovos.repositories.champions.rebuild`, `dovos db
champions`), never on the import path. `lexeme_champion_state.watermark` is a time no
later than the start of any transaction whose writes the build could not see; messages
with `updated_at` at or after it (added or edited since, `updated_at` is set on insert
and by the messages_touch trigger on update) are found through the full-text index,
and the BRIN index on `messages.updated_at` (rows are appended in time order; BRIN
costs almost nothing on insert) finds them without reading the archive. Entries of
deleted or edited messages are harmless: candidates are rescored from the live
tsvector and must still match the query.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UPGRADE = """
CREATE TABLE lexeme_champion_lists (
    lexeme    text PRIMARY KEY,
    doc_count bigint NOT NULL,   -- messages holding the lexeme when the list was built
    floor     real NOT NULL      -- the lowest weight kept in its list
);

-- No key and no foreign key: the table is only ever rebuilt whole, in one transaction,
-- by one statement per page range, and each constraint would be checked millions of
-- times per build. The one index reads a list best first by an index-only scan.
CREATE TABLE lexeme_champions (
    lexeme     text NOT NULL,
    impact     real NOT NULL,
    message_id uuid NOT NULL
);
CREATE INDEX lexeme_champions_impact_idx
    ON lexeme_champions (lexeme, impact DESC, message_id);

CREATE TABLE lexeme_champion_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark timestamptz NOT NULL,
    built_at  timestamptz NOT NULL DEFAULT now(),
    min_df    integer NOT NULL,
    depth     integer NOT NULL,
    k1        double precision NOT NULL,
    b         double precision NOT NULL,
    lists     integer NOT NULL,
    entries   bigint NOT NULL,
    seconds   double precision NOT NULL
);

CREATE INDEX messages_updated_at_brin_idx ON messages USING brin (updated_at);
"""

DOWNGRADE = """
DROP INDEX IF EXISTS messages_updated_at_brin_idx;
DROP TABLE IF EXISTS lexeme_champion_state;
DROP TABLE IF EXISTS lexeme_champions;
DROP TABLE IF EXISTS lexeme_champion_lists;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
