"""The explore notebook's view: a query box and controls over `explore.explore`, the
lexical, vector and hybrid results as three HTML tables side by side, and a click on a
hit's number opens the conversation around it (`explore.conversation_context`).

    ExploreView().widget()        # in a notebook cell

Every control maps to an argument of `explore.explore`; `view.frame` is the DataFrame
on screen, so what the user sees is also a value a cell can inspect.
"""

from __future__ import annotations

import html
from datetime import date
from typing import Any

import pandas as pd

from dovos.evaluation import explore as core
from dovos.search.types import MODES, SearchParams

TABLE_STYLE = (
    "<style>.dovos-hits table{border-collapse:collapse;width:100%;font-size:12px}"
    ".dovos-hits td,.dovos-hits th{border-bottom:1px solid #ddd;padding:3px;vertical-align:top;"
    "text-align:left}.dovos-hits mark{background:#ffe066}.dovos-turn{padding:4px 6px;"
    "margin:2px 0;border-left:3px solid #ccc}.dovos-turn.hit{border-left-color:#e8590c;"
    "background:#fff4e6}</style>"
)


class ExploreView:
    """Controls, three result columns and a conversation panel, over one search service."""

    def __init__(self, service: Any = None, database: Any = None, k: int = 10) -> None:
        import ipywidgets as widgets

        self.service = service or core.default_service()
        self.database = database or getattr(self.service, "database", None)
        self.frame = pd.DataFrame(columns=core.COLUMNS)
        defaults = self._defaults()
        choices = core.archive_choices(self.database)
        wide = widgets.Layout(width="32%")
        self.query = widgets.Text(
            placeholder="type a query, press Enter",
            continuous_update=False,
            layout=widgets.Layout(width="60%"),
        )
        self.search_button = widgets.Button(description="Search", button_style="primary")
        self.modes = widgets.SelectMultiple(options=MODES, value=MODES, description="modes", rows=3)
        self.fusion = widgets.Dropdown(
            options=["weighted", "rrf"], value=defaults.fusion, description="fusion"
        )
        self.lexical_weight = widgets.FloatSlider(
            value=defaults.lexical_weight, min=0, max=1, step=0.05, description="lexical w"
        )
        self.vector_weight = widgets.FloatSlider(
            value=defaults.vector_weight, min=0, max=1, step=0.05, description="vector w"
        )
        self.rrf_k = widgets.IntSlider(value=defaults.rrf_k, min=1, max=200, description="rrf k")
        self.candidates = widgets.IntSlider(
            value=defaults.candidates, min=10, max=1000, step=10, description="candidates"
        )
        self.k = widgets.IntSlider(value=k, min=1, max=50, description="hits")
        self.sources = widgets.SelectMultiple(
            options=choices["sources"], description="source", rows=3
        )
        self.roles = widgets.SelectMultiple(options=choices["roles"], description="role", rows=3)
        self.date_from = widgets.DatePicker(description="from")
        self.date_to = widgets.DatePicker(description="to")
        self.conversation = widgets.Text(
            description="conversation", placeholder="id or words of its title"
        )
        self.status = widgets.HTML()
        self.columns = {mode: widgets.VBox(layout=wide) for mode in MODES}
        for mode, column in self.columns.items():
            column.add_class(f"dovos-explore-{mode}")
        self.context = widgets.HTML()
        self.context.add_class("dovos-explore-context")
        self.search_button.on_click(lambda _: self.run())
        self.query.observe(lambda _: self.run(), names="value")  # Enter (continuous_update off)

    def _defaults(self) -> SearchParams:
        try:
            return self.service.stored_params()
        except Exception:  # noqa: BLE001 - the view still opens with code defaults
            return SearchParams()

    # -- actions ------------------------------------------------------------------------------
    def filters(self) -> Any:
        """The SearchFilters the filter controls describe (None when none is set)."""
        conversations = core.conversations_matching(self.conversation.value, database=self.database)
        if self.conversation.value.strip() and not conversations:
            raise LookupError(f"no conversation id or title matches {self.conversation.value!r}")
        return core.make_filters(
            sources=list(self.sources.value) or None,
            roles=list(self.roles.value) or None,
            date_from=_day(self.date_from.value),
            date_to=_day(self.date_to.value),
            conversations=conversations or None,
        )

    def run(self, query: str | None = None) -> pd.DataFrame:
        """Search with the current controls and redraw the three columns."""
        if query is not None and query != self.query.value:
            self.query.value = query  # the observer searches
            return self.frame
        text = self.query.value.strip()
        if not text:
            self.status.value = "<i>type a query</i>"
            return self.frame
        self.status.value = f"searching <b>{html.escape(text)}</b>…"
        try:
            self.frame = core.explore(
                text,
                modes=tuple(self.modes.value) or MODES,
                k=self.k.value,
                fusion=self.fusion.value,
                lexical_weight=self.lexical_weight.value,
                vector_weight=self.vector_weight.value,
                rrf_k=self.rrf_k.value,
                candidates=self.candidates.value,
                filters=self.filters(),
                service=self.service,
            )
        except (ValueError, LookupError) as error:  # InvalidQueryError is a ValueError
            self.status.value = f"<b style='color:#c92a2a'>{html.escape(str(error))}</b>"
            return self.frame
        self._draw()
        return self.frame

    def open(self, message_id: Any) -> pd.DataFrame:
        """Show the turns around `message_id` in the conversation panel."""
        frame = core.conversation_context(message_id, database=self.database)
        turns = "".join(
            f"<div class='dovos-turn{' hit' if row.is_hit else ''}'><b>{html.escape(row.role)}</b> "
            f"<small>#{row.position} · {_when(row.date)}</small><br>"
            f"{html.escape(str(row.content)[:2000])}</div>"
            for row in frame.itertuples()
        )
        title = html.escape(str(frame.attrs.get("title") or "(untitled)"))
        self.context.value = f"{TABLE_STYLE}<h4>{title}</h4>{turns}"
        return frame

    # -- drawing -----------------------------------------------------------------------------
    def _draw(self) -> None:
        import ipywidgets as widgets

        elapsed = self.frame.attrs.get("elapsed_ms", {})
        notes = self.frame.attrs.get("notes", {})
        for mode, column in self.columns.items():
            hits = self.frame[self.frame["mode"] == mode]
            header = (
                f"<h4>{mode} <small>({len(hits)} hits, {elapsed.get(mode, 0):.0f} ms)</small></h4>"
            )
            if notes.get(mode):
                header += "<small><i>" + html.escape("; ".join(notes[mode])) + "</i></small>"
            if mode not in self.modes.value:
                column.children = [widgets.HTML(header.replace("(0 hits", "(not searched"))]
                continue
            buttons = []
            for row in hits.itertuples():
                button = widgets.Button(
                    description=str(row.rank),
                    tooltip=f"open the conversation around hit {row.rank}",
                    layout=widgets.Layout(width="3.4em"),
                )
                button.add_class("dovos-open-hit")
                button.on_click(lambda _, mid=row.message_id: self.open(mid))
                buttons.append(button)
            table = widgets.HTML(TABLE_STYLE + f"<div class='dovos-hits'>{hits_table(hits)}</div>")
            opener = widgets.HBox(
                [widgets.Label("open:"), *buttons], layout=widgets.Layout(flex_flow="row wrap")
            )
            column.children = (
                [widgets.HTML(header), table, opener]
                if buttons
                else [widgets.HTML(header + "<p>no hits</p>")]
            )
        self.status.value = (
            f"<b>{len(self.frame)}</b> hits for <b>{html.escape(self.query.value)}</b>"
        )

    def widget(self) -> Any:
        """The whole view, for a notebook cell."""
        import ipywidgets as widgets

        ranking = widgets.VBox(
            [
                self.modes,
                self.fusion,
                self.lexical_weight,
                self.vector_weight,
                self.rrf_k,
                self.candidates,
                self.k,
            ]
        )
        filters = widgets.VBox(
            [self.sources, self.roles, self.date_from, self.date_to, self.conversation]
        )
        controls = widgets.Accordion(
            children=[widgets.HBox([ranking, filters])], titles=("ranking and filters",)
        )
        box = widgets.VBox(
            [
                widgets.HBox([self.query, self.search_button]),
                controls,
                self.status,
                widgets.HBox(list(self.columns.values())),
                self.context,
            ]
        )
        box.add_class("dovos-explore")
        return box


def hits_table(hits: pd.DataFrame) -> str:
    """One mode's hits as an HTML table: rank, score, leg ranks, snippet, title and date."""
    rows = "".join(
        "<tr>"
        f"<td>{row.rank}</td><td>{row.score:.3f}</td>"
        f"<td>{_rank(row.lexical_rank)}</td><td>{_rank(row.vector_rank)}</td>"
        f"<td>{row.snippet}<br><small><b>{html.escape(str(row.title) or '(untitled)')}</b>"
        f" · {html.escape(str(row.role))} · {_when(row.date)}</small></td>"
        "</tr>"
        for row in hits.itertuples()
    )
    head = "<tr><th>#</th><th>score</th><th>lex</th><th>vec</th><th>snippet · conversation · date</th></tr>"
    return f"<table>{head}{rows}</table>"


def _rank(value: Any) -> str:
    return "–" if value is None or pd.isna(value) else str(int(value))


def _when(value: Any) -> str:
    return (
        pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")
        if value is not None and not pd.isna(value)
        else ""
    )


def _day(value: date | None) -> date | None:
    return value or None
