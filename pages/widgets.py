"""The widget screens of a hub: index /Widgets?hubId=, new /Widgets/new?hubId=."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from pages.base import CHOICE, REFERENCE, TEXT, AdminPage, Screen, query_param


class WidgetsTexts:
    UI_TEXTS_SECTION = "widgets"
    INDEX_PATH = "/Widgets?hubId={hub_id}"
    NEW_PATH = "/Widgets/new?hubId={hub_id}"
    ID_PARAM = "widgetId"
    SHOW_HEADING = "Show Widget"
    # the hub a widget belongs to: the new form's field and the index's column where they show
    # it (IHP's generated ones do: "Hub Id", and the index lists every hub's widgets)
    HUB = "Hub"
    HUB_PARAM = "hubId"  # the hub page's id parameter, where the Hub column links to it
    NAME = "Name"
    TITLE = "Title"
    WIDGET_TYPE = "Widget Type"
    CONFIG = "Config"
    CREATE_BUTTON = "Create Widget"
    SHOW_LINK = "Show"


class WidgetFields(Protocol):
    name: str
    title: str
    type: str
    config: dict[str, Any]


@dataclass(frozen=True)
class WidgetSummary:
    id: str
    name: str
    title: str
    type: str


class WidgetsPage(AdminPage):
    SCREEN = "Widgets"

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        t = WidgetsTexts
        self.index_table = self.table(t, "NAME", "TITLE", "WIDGET_TYPE")
        self.show_heading = self.heading(t, "SHOW_HEADING")
        self.hub = self.reference_field(t, "HUB")
        self.name = self.field(t, "NAME")
        self.title = self.field(t, "TITLE")
        self.widget_type = self.field(t, "WIDGET_TYPE")
        self.config = self.field(t, "CONFIG")
        self.create_button = self.button(t, "CREATE_BUTTON")

    def list(self, hub_id: str, *, hub_slug: str = "") -> list[WidgetSummary]:
        """The hub's widgets on the index: where it has a Hub column, the rows that give the hub's
        id or slug (IHP's generated index lists every hub's widgets, and another hub's widget of
        the same name is not this hub's)."""
        t = WidgetsTexts
        self._open(t.INDEX_PATH.format(hub_id=hub_id))
        return [
            WidgetSummary(
                query_param(row.link(t.SHOW_LINK), t.ID_PARAM) or "",
                row[t.NAME],
                row[t.TITLE],
                row[t.WIDGET_TYPE],
            )
            for row in self.rows_of(self.read_table(self.index_table), t.HUB, hub_id, hub_slug, t.HUB_PARAM)
        ]

    def create(self, hub_id: str, widget: WidgetFields) -> str | None:
        """Create a widget and wait for it: its id where the page it landed on names it."""
        self.send_new(hub_id, widget)
        return self.await_created(widget)

    def send_new(self, hub_id: str, widget: WidgetFields) -> None:
        """Open the new-widget form, fill it and submit it, without waiting for the outcome:
        meanwhile another browser page can fill the next one (see :meth:`await_created`). The
        page comes to the front for the click (see AdminPage._click)."""
        t = WidgetsTexts
        self._open(t.NEW_PATH.format(hub_id=hub_id))
        self.fill_form(
            (self.hub, hub_id, REFERENCE),
            (self.name, widget.name, TEXT),
            (self.title, widget.title, TEXT),
            (self.widget_type, widget.type, CHOICE),
            (self.config, json.dumps(widget.config, ensure_ascii=False), TEXT),
        )
        self._click(self.create_button)

    def await_created(self, widget: WidgetFields) -> str | None:
        """The outcome of :meth:`send_new` on this page: the new widget's id where the page
        names it (None where it landed on the index), or the page's error (form errors, a failed
        request, the login page) naming the widget."""
        listed = self.listing(self.index_table, widget.name)
        self._await_outcome(self.saved(self.show_heading, listed), what=f"create widget {widget.name!r}")
        return self.landed_id(WidgetsTexts.ID_PARAM)

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        t = WidgetsTexts
        if "hub_id" not in ids:
            return []
        form = {"name": self.name, "title": self.title, "widget type": self.widget_type, "config": self.config}
        return [
            Screen("widgets index", t.INDEX_PATH.format(hub_id=ids["hub_id"]), {"widgets table": self.index_table}),
            Screen("new widget form", t.NEW_PATH.format(hub_id=ids["hub_id"]), {**form, "create button": self.create_button}, {"hub": self.hub}),
        ]
