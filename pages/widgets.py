"""The widget screens of a hub: index /Widgets?hubId=, new /Widgets/new?hubId=."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from pages.base import AdminPage, Screen, query_param


class WidgetsTexts:
    INDEX_PATH = "/Widgets?hubId={hub_id}"
    NEW_PATH = "/Widgets/new?hubId={hub_id}"
    ID_PARAM = "widgetId"
    INDEX_TABLE = "Widgets"
    SHOW_HEADING = "Show Widget"
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
        p = self.page
        self.index_table = p.get_by_role("table", name=t.INDEX_TABLE, exact=True)
        self.show_heading = p.get_by_role("heading", name=t.SHOW_HEADING, exact=True)
        self.name = p.get_by_label(t.NAME, exact=True)
        self.title = p.get_by_label(t.TITLE, exact=True)
        self.widget_type = p.get_by_label(t.WIDGET_TYPE, exact=True)
        self.config = p.get_by_label(t.CONFIG, exact=True)
        self.create_button = p.get_by_role("button", name=t.CREATE_BUTTON, exact=True)

    def list(self, hub_id: str) -> list[WidgetSummary]:
        t = WidgetsTexts
        self._open(t.INDEX_PATH.format(hub_id=hub_id))
        return [
            WidgetSummary(
                query_param(row.links.get(t.SHOW_LINK, ""), t.ID_PARAM) or "",
                row[t.NAME],
                row[t.TITLE],
                row[t.WIDGET_TYPE],
            )
            for row in self.read_table(self.index_table)
        ]

    def create(self, hub_id: str, widget: WidgetFields) -> str:
        t = WidgetsTexts
        self._open(t.NEW_PATH.format(hub_id=hub_id))
        self.name.fill(widget.name)
        self.title.fill(widget.title)
        self._choose(self.widget_type, widget.type, t.WIDGET_TYPE)
        self.config.fill(json.dumps(widget.config, ensure_ascii=False))
        self._submit(self.create_button, self.show_heading, what=f"create widget {widget.name!r}")
        return self.id_from_url(t.ID_PARAM)

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        t = WidgetsTexts
        if "hub_id" not in ids:
            return []
        form = {"name": self.name, "title": self.title, "widget type": self.widget_type, "config": self.config}
        return [
            Screen("widgets index", t.INDEX_PATH.format(hub_id=ids["hub_id"]), {"widgets table": self.index_table}),
            Screen("new widget form", t.NEW_PATH.format(hub_id=ids["hub_id"]), {**form, "create button": self.create_button}),
        ]
