"""The judge notebook's view: one pooled message at a time, blind, graded 0/1/2.

    JudgeView(JudgingSession("~/dovos-labels/mine")).widget()

A thin layer over dovos.evaluation.judging: the buttons (or the keys 0, 1, 2 typed in
the grade box; s skips, b goes back) call `session.grade`, which is on disk before the
next item shows. The judge sees the query and the message (conversation title, role,
date, text with the query's words marked); never the mode that found it nor a score.
The per-mode pool contribution is in a closed panel, so it does not tell which leg found
the item on screen.
"""

from __future__ import annotations

import html
from typing import Any

from dovos.evaluation.explore import highlight
from dovos.evaluation.judging import GRADE_LABELS, GRADES, JudgingItem, JudgingSession

KEYS_HELP = "click here, then type 0, 1 or 2 to grade (s: skip, b: back)"
CARD_STYLE = (
    "<style>.dovos-card{border:1px solid #ccc;border-radius:4px;padding:8px;"
    "max-height:360px;overflow:auto;white-space:pre-wrap}.dovos-card mark{background:#ffe066}"
    ".dovos-judge table{border-collapse:collapse}.dovos-judge td,.dovos-judge th"
    "{padding:2px 8px;border-bottom:1px solid #ddd}</style>"
)


class JudgeView:
    """Buttons, a key box, progress and pool statistics over a JudgingSession."""

    def __init__(self, session: JudgingSession) -> None:
        import ipywidgets as widgets

        self.session = session
        self.current: JudgingItem | None = None
        self.history: list[tuple[str, str]] = []
        self.header = widgets.HTML()
        self.card = widgets.HTML()
        self.card.add_class("dovos-judge-card")
        self.progress = widgets.IntProgress(min=0, max=1, description="graded")
        self.counts = widgets.HTML()
        self.buttons = []
        for grade in GRADES:
            button = widgets.Button(
                description=f"{grade}: {GRADE_LABELS[grade]}",
                button_style=("danger", "warning", "success")[grade],
                layout=widgets.Layout(width="auto"),
            )
            button.add_class(f"dovos-grade-{grade}")
            button.on_click(lambda _, g=grade: self.grade(g))
            self.buttons.append(button)
        self.skip = widgets.Button(description="skip")
        self.skip.on_click(lambda _: self.show(after=self._key()))
        self.back = widgets.Button(description="back")
        self.back.on_click(lambda _: self.go_back())
        self.keys = widgets.Text(
            placeholder=KEYS_HELP, continuous_update=True, layout=widgets.Layout(width="40em")
        )
        self.keys.add_class("dovos-grade-keys")
        self.keys.observe(self._on_key, names="value")
        self.new_query = widgets.Text(
            placeholder="type a query to judge, press Enter",
            continuous_update=False,
            layout=widgets.Layout(width="40em"),
        )
        self.new_query.add_class("dovos-new-query")
        self.new_query.observe(lambda _: self.add_query(), names="value")
        self.draw_count = widgets.BoundedIntText(
            value=10, min=1, max=500, description="draw", layout=widgets.Layout(width="10em")
        )
        self.draw_known = widgets.Button(
            description="known-item queries", layout=widgets.Layout(width="auto")
        )
        self.draw_known.on_click(lambda _: self._draw(self.session.draw_known_items))
        self.draw_turns = widgets.Button(
            description="user turns as queries", layout=widgets.Layout(width="auto")
        )
        self.draw_turns.on_click(lambda _: self._draw(self.session.draw_user_turns))
        self.message = widgets.HTML()
        self.stats = widgets.HTML()
        self.show()

    # -- actions ------------------------------------------------------------------------------
    def grade(self, relevance: int) -> None:
        """Grade the item on screen and move to the next ungraded one."""
        if self.current is None:
            return
        key = self._key()
        self.session.grade(self.current.query.id, self.current.doc, relevance)
        if key is not None:
            self.history.append(key)
        self.show(after=key)

    def go_back(self) -> None:
        """Show the item graded last (to change its grade)."""
        if not self.history:
            return
        query_id, doc = self.history.pop()
        query = next(q for q in self.session.queries if q.id == query_id)
        pool = self.session.items(query_id)
        index = next(i for i, item in enumerate(pool) if item.doc == doc)
        self._render(JudgingItem(query, pool[index], index, len(pool)))

    def add_query(self) -> None:
        """Add the typed query (pooled at once) and show its first item when nothing else waits."""
        text = self.new_query.value.strip()
        if not text:
            return
        try:
            query = self.session.add_query(text)
        except ValueError as error:
            self.message.value = f"<b style='color:#c92a2a'>{html.escape(str(error))}</b>"
            return
        self.new_query.value = ""
        pooled = len(self.session.items(query.id))
        self.message.value = f"added {query.id}: {pooled} messages pooled" + (
            "" if pooled else " (no hits: nothing to judge)"
        )
        self.show()

    def _draw(self, draw: Any) -> None:
        try:
            queries = draw(self.draw_count.value)
        except ValueError as error:
            self.message.value = f"<b style='color:#c92a2a'>{html.escape(str(error))}</b>"
            return
        self.message.value = f"{len(queries)} queries drawn and pooled"
        self.show()

    def _on_key(self, change: dict[str, Any]) -> None:
        value = str(change["new"])
        if not value:
            return
        key = value[-1].lower()
        self.keys.value = ""
        if key in "012":
            self.grade(int(key))
        elif key == "s":
            self.show(after=self._key())
        elif key == "b":
            self.go_back()

    def _key(self) -> tuple[str, str] | None:
        return (self.current.query.id, self.current.doc) if self.current else None

    # -- drawing -----------------------------------------------------------------------------
    def show(self, after: tuple[str, str] | None = None) -> None:
        """Show the next ungraded item (after `after`), progress and statistics."""
        self._render(self.session.next_item(after))

    def _render(self, item: JudgingItem | None) -> None:
        self.current = item
        totals = self.session.totals()
        self.progress.max = max(totals["pooled"], 1)
        self.progress.value = totals["graded"]
        self.counts.value = (
            f"{totals['graded']} of {totals['pooled']} pooled messages graded "
            f"({totals['relevant']} relevant) over {totals['queries']} queries"
        )
        if item is None:
            self.header.value = "<h3>Nothing left to judge</h3>"
            self.card.value = (
                "<p>Add a query below, or draw some. Grades are saved in "
                + html.escape(str(self.session.directory))
                + "</p>"
            )
        else:
            graded = self.session.qrels.get(item.query.id, {}).get(item.doc)
            note = f" · graded {graded} (grade again to change)" if graded is not None else ""
            self.header.value = (
                f"<h3>{html.escape(item.query.text)}</h3><small>query {item.query.id} · "
                f"message {item.index + 1} of {item.pool_size}{note}</small>"
            )
            self.card.value = CARD_STYLE + (
                f"<div><b>{html.escape(item.item.title or '(untitled)')}</b> · "
                f"{html.escape(item.item.role)} · {html.escape(item.item.date[:16].replace('T', ' '))}</div>"
                f"<div class='dovos-card'>{highlight(item.item.content, item.query.text)}</div>"
            )
        for button in self.buttons:
            button.disabled = item is None
        self.stats.value = (
            CARD_STYLE
            + "<div class='dovos-judge'>"
            + self.session.progress().to_html(index=False, border=0)
            + "<h4>pool contribution per mode</h4>"
            + self.session.contribution().to_html(border=0)
            + "</div>"
        )

    def widget(self) -> Any:
        """The whole view, for a notebook cell."""
        import ipywidgets as widgets

        stats = widgets.Accordion(
            children=[self.stats],
            titles=("progress per query and pool contribution per mode (not blind)",),
        )
        stats.selected_index = None
        box = widgets.VBox(
            [
                self.header,
                self.card,
                widgets.HBox([*self.buttons, self.skip, self.back]),
                self.keys,
                widgets.HBox([self.progress, self.counts]),
                widgets.HBox([self.new_query]),
                widgets.HBox([self.draw_count, self.draw_known, self.draw_turns]),
                self.message,
                stats,
            ]
        )
        box.add_class("dovos-judge-view")
        return box
