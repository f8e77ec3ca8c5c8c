"""The Hubs screens: index /Hubs, new /Hubs/new, show /ShowHub?hubId=, edit /EditHub?hubId=."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from pages.base import AdminPage, Row, Screen, query_param


class HubsTexts:
    INDEX_PATH = "/Hubs"
    ID_PARAM = "hubId"
    MANIFEST_ID_PARAM = "hubCapabilityManifestId"
    NEW_PATH = "/Hubs/new"
    SHOW_PATH = "/ShowHub?hubId={id}"
    EDIT_PATH = "/EditHub?hubId={id}"
    INDEX_TABLE = "Hubs"
    RECORD_TABLE = "Hub"
    MANIFESTS_TABLE = "Capability Manifests"
    SHOW_HEADING = "Show Hub"
    NAME, SLUG, DOMAIN, KIND = "Name", "Slug", "Domain", "Kind"
    # Only newer Inter-Hub schemas have these; matched loosely ("VSM function" or "Vsm Function").
    OPTIONAL = {
        "hub_family": re.compile(r"^\s*hub[ _]family\s*$", re.I),
        "vsm_function": re.compile(r"^\s*vsm[ _]function\s*$", re.I),
        "vsm_system": re.compile(r"^\s*vsm[ _]system\s*$", re.I),
    }
    CREATE_BUTTON = "Create Hub"
    SAVE_BUTTON = "Save Hub"
    SHOW_LINK = "Show"
    MANIFEST_VERSION = "Version"
    MANIFEST_STATUS = "Status"


class HubFields(Protocol):
    """What the hub form takes; the VSM metadata is optional."""

    name: str
    slug: str
    domain: str
    kind: str
    hub_family: str | None
    vsm_function: str | None
    vsm_system: str | None


@dataclass(frozen=True)
class HubSummary:
    id: str
    name: str
    slug: str
    domain: str
    kind: str


@dataclass(frozen=True)
class ManifestSummary:
    id: str
    version: str
    status: str


@dataclass(frozen=True)
class HubDetails:
    id: str
    values: dict[str, str]  # HubFields attribute -> text, for the fields the show page has
    manifests: list[ManifestSummary]


@dataclass(frozen=True)
class SavedHub:
    id: str
    optional_filled: list[str] = field(default_factory=list)
    optional_absent: list[str] = field(default_factory=list)


class HubsPage(AdminPage):
    SCREEN = "Hubs"

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        t = HubsTexts
        p = self.page
        self.index_table = p.get_by_role("table", name=t.INDEX_TABLE, exact=True)
        self.record_table = p.get_by_role("table", name=t.RECORD_TABLE, exact=True)
        self.manifests_table = p.get_by_role("table", name=t.MANIFESTS_TABLE, exact=True)
        self.show_heading = p.get_by_role("heading", name=t.SHOW_HEADING, exact=True)
        self.name = p.get_by_label(t.NAME, exact=True)
        self.slug = p.get_by_label(t.SLUG, exact=True)
        self.domain = p.get_by_label(t.DOMAIN, exact=True)
        self.kind = p.get_by_label(t.KIND, exact=True)
        self.optional = {key: p.get_by_label(label) for key, label in t.OPTIONAL.items()}
        self.create_button = p.get_by_role("button", name=t.CREATE_BUTTON, exact=True)
        self.save_button = p.get_by_role("button", name=t.SAVE_BUTTON, exact=True)

    # -------------------------------------------------------------- index

    def list(self, *, reuse_open_page: bool = False) -> list[HubSummary]:
        """The hubs on the index. ``reuse_open_page``: read the index already on screen (just
        loaded, e.g. where the login lands) instead of loading it again."""
        if not (reuse_open_page and self.path == HubsTexts.INDEX_PATH):
            self._open(HubsTexts.INDEX_PATH)
        return [self._summary(row) for row in self.read_table(self.index_table)]

    def _summary(self, row: Row) -> HubSummary:
        t = HubsTexts
        hub_id = query_param(row.links.get(t.SHOW_LINK, ""), t.ID_PARAM) or ""
        return HubSummary(hub_id, row[t.NAME], row[t.SLUG], row[t.DOMAIN], row[t.KIND])

    # -------------------------------------------------------------- new / edit

    def create(self, hub: HubFields) -> SavedHub:
        self._open(HubsTexts.NEW_PATH)
        filled, absent = self._fill(hub)
        self._submit(self.create_button, self.show_heading, what="create the hub")
        return SavedHub(self.id_from_url(HubsTexts.ID_PARAM), filled, absent)

    def update(self, hub_id: str, hub: HubFields) -> SavedHub:
        self._open(HubsTexts.EDIT_PATH.format(id=hub_id))
        filled, absent = self._fill(hub)
        self._submit(self.save_button, self.show_heading, what="save the hub")
        return SavedHub(hub_id, filled, absent)

    def edit(self, hub_id: str, changes: dict[str, str]) -> SavedHub:
        """Change only the given fields (``HubFields`` attribute -> value) on the edit form,
        which shows the hub's current values; the rest stays as it is."""
        self._open(HubsTexts.EDIT_PATH.format(id=hub_id))
        fields = {"name": self.name, "slug": self.slug, "domain": self.domain, "kind": self.kind, **self.optional}
        filled, absent = [], []
        for key, value in changes.items():
            locator = fields.get(key)
            if locator is None or (key in self.optional and locator.count() != 1):
                absent.append(key)
                continue
            self._set(locator, value, key)
            filled.append(key)
        self._submit(self.save_button, self.show_heading, what="save the hub")
        return SavedHub(hub_id, [k for k in filled if k in self.optional], absent)

    def _fill(self, hub: HubFields) -> tuple[list[str], list[str]]:
        """Fill the form; returns the optional fields filled and those this form lacks."""
        t = HubsTexts
        self.name.fill(hub.name)
        self.slug.fill(hub.slug)
        self.domain.fill(hub.domain)
        self._choose(self.kind, hub.kind, t.KIND)
        wanted = {key: getattr(hub, key) for key in self.optional if getattr(hub, key) is not None}
        if not wanted:
            return [], []
        any_optional = self.optional[next(iter(self.optional))]
        for locator in list(self.optional.values())[1:]:
            any_optional = any_optional.or_(locator)
        if not any_optional.count():  # an older Inter-Hub: one look instead of one per field
            return [], list(wanted)
        filled, absent = [], []
        for key, value in wanted.items():
            if self.optional[key].count() == 1:
                self._set(self.optional[key], value, key)
                filled.append(key)
            else:
                absent.append(key)
        return filled, absent

    # -------------------------------------------------------------- show

    def show(self, hub_id: str) -> HubDetails:
        self._open(HubsTexts.SHOW_PATH.format(id=hub_id))
        return self.read_details()

    def read_details(self) -> HubDetails:
        """The open show page: the hub's fields and its manifests."""
        t = HubsTexts
        record = self.read_record(self.record_table)
        labels = {"name": t.NAME, "slug": t.SLUG, "domain": t.DOMAIN, "kind": t.KIND}
        values = {attr: record[label] for attr, label in labels.items() if label in record}
        for attr, pattern in t.OPTIONAL.items():
            for label, text in record.items():
                if pattern.match(label):
                    values[attr] = text
        manifests = [
            ManifestSummary(
                query_param(row.links.get(t.SHOW_LINK, ""), t.MANIFEST_ID_PARAM) or "",
                row[t.MANIFEST_VERSION],
                row[t.MANIFEST_STATUS],
            )
            for row in self.read_table(self.manifests_table)
        ]
        return HubDetails(self.id_from_url(HubsTexts.ID_PARAM), values, manifests)

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        t = HubsTexts
        form = {"name": self.name, "slug": self.slug, "domain": self.domain, "kind": self.kind}
        screens = [
            Screen("hubs index", t.INDEX_PATH, {"hubs table": self.index_table}),
            Screen("new hub form", t.NEW_PATH, {**form, "create button": self.create_button}, self.optional),
        ]
        if "hub_id" in ids:
            show = {"heading": self.show_heading, "hub record": self.record_table, "manifests table": self.manifests_table}
            screens.append(Screen("hub page", t.SHOW_PATH.format(id=ids["hub_id"]), show))
            edit = {**form, "save button": self.save_button}
            screens.append(Screen("edit hub form", t.EDIT_PATH.format(id=ids["hub_id"]), edit, self.optional))
        return screens
