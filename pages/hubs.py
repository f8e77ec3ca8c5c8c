"""The Hubs screens: index /Hubs, new /Hubs/new, show /ShowHub?hubId=, edit /EditHub?hubId=."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from pages.base import CHOICE, TEXT, AdminPage, Row, Screen, norm, query_param
from pages.manifests import MANIFESTS_ON_INDEX, ManifestSummary


class HubsTexts:
    UI_TEXTS_SECTION = "hubs"
    INDEX_PATH = "/Hubs"
    ID_PARAM = "hubId"
    MANIFEST_ID_PARAM = "hubCapabilityManifestId"
    NEW_PATH = "/Hubs/new"
    SHOW_PATH = "/ShowHub?hubId={id}"
    EDIT_PATH = "/EditHub?hubId={id}"
    SHOW_HEADING = "Show Hub"
    # form labels, index columns and show-page labels alike
    NAME, SLUG, DOMAIN, KIND = "Name", "Slug", "Domain", "Kind"
    # Only newer Inter-Hub schemas have these (matched as every text: "VSM function" or "Vsm_Function").
    OPTIONAL = {"hub_family": "Hub Family", "vsm_function": "Vsm Function", "vsm_system": "Vsm System"}
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
class HubDetails:
    id: str
    values: dict[str, str]  # HubFields attribute -> text, for the fields the show page has
    manifests: list[ManifestSummary] | None  # None: the page lists none (IHP's generated show page)


@dataclass(frozen=True)
class SavedHub:
    id: str | None  # None: the form landed on the index (IHP's generated create), see listed_id
    optional_filled: list[str] = field(default_factory=list)
    optional_absent: list[str] = field(default_factory=list)


class HubsPage(AdminPage):
    SCREEN = "Hubs"

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        t = HubsTexts
        self.index_table = self.table(t, "NAME", "SLUG", "DOMAIN", "KIND")
        self.manifests_table = self.table(t, "MANIFEST_VERSION", "MANIFEST_STATUS")
        self.show_heading = self.heading(t, "SHOW_HEADING")
        self.name = self.field(t, "NAME")
        self.slug = self.field(t, "SLUG")
        self.domain = self.field(t, "DOMAIN")
        self.kind = self.field(t, "KIND")
        self.optional = {key: self.field(t, "OPTIONAL", key) for key in t.OPTIONAL}
        self.create_button = self.button(t, "CREATE_BUTTON")
        self.save_button = self.button(t, "SAVE_BUTTON")

    # -------------------------------------------------------------- index

    def list(self, *, reuse_open_page: bool = False) -> list[HubSummary]:
        """The hubs on the index. ``reuse_open_page``: read the index already on screen (just
        loaded, e.g. where the login lands) instead of loading it again."""
        if not (reuse_open_page and self.path == HubsTexts.INDEX_PATH):
            self._open(HubsTexts.INDEX_PATH)
        return [self._summary(row) for row in self.read_table(self.index_table)]

    def _summary(self, row: Row) -> HubSummary:
        t = HubsTexts
        hub_id = query_param(row.link(t.SHOW_LINK), t.ID_PARAM) or ""
        return HubSummary(hub_id, row[t.NAME], row[t.SLUG], row[t.DOMAIN], row[t.KIND])

    # -------------------------------------------------------------- new / edit

    def create(self, hub: HubFields) -> SavedHub:
        self._open(HubsTexts.NEW_PATH)
        filled, absent = self._fill(hub)
        listed = self.listing(self.index_table, hub.slug)
        self._submit(self.create_button, self.saved(self.show_heading, listed), what="create the hub")
        return SavedHub(self.landed_id(HubsTexts.ID_PARAM), filled, absent)

    def update(self, hub_id: str, hub: HubFields) -> SavedHub:
        self._open(HubsTexts.EDIT_PATH.format(id=hub_id))
        filled, absent = self._fill(hub)
        self._submit(self.save_button, self.saved(self.show_heading), what="save the hub")
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
            self._choose(locator, value, key)
            filled.append(key)
        self._submit(self.save_button, self.saved(self.show_heading), what="save the hub")
        return SavedHub(hub_id, [k for k in filled if k in self.optional], absent)

    def _fill(self, hub: HubFields) -> tuple[list[str], list[str]]:
        """Fill the form; returns the optional fields filled and those this form lacks."""
        self.fill_form((self.name, hub.name, TEXT), (self.slug, hub.slug, TEXT), (self.domain, hub.domain, TEXT), (self.kind, hub.kind, CHOICE))
        wanted = {key: getattr(hub, key) for key in self.optional if getattr(hub, key) is not None}
        if not wanted:
            return [], []
        any_optional = self.optional[next(iter(self.optional))].locator
        for target in list(self.optional.values())[1:]:
            any_optional = any_optional.or_(target.locator)
        if not any_optional.count():  # an older Inter-Hub: one look instead of one per field
            return [], list(wanted)
        filled, absent = [], []
        for key, value in wanted.items():
            if self.optional[key].locator.count() == 1:
                self._choose(self.optional[key], value, key)
                filled.append(key)
            else:
                absent.append(key)
        return filled, absent

    def listed_id(self, slug: str) -> str:
        """The id of the hub with ``slug``, from the index (read where it is open already: where
        IHP's generated create lands)."""
        found = next((h for h in self.list(reuse_open_page=True) if h.slug == slug), None)
        return self.saved_id(found, f"the hub {slug!r}", HubsTexts.INDEX_PATH)

    # -------------------------------------------------------------- show

    def show(self, hub_id: str) -> HubDetails:
        self._open(HubsTexts.SHOW_PATH.format(id=hub_id))
        return self.read_details()

    def read_details(self) -> HubDetails:
        """The open show page: the hub's fields and its manifests, where it lists them."""
        t = HubsTexts
        self.one(self.show_heading, before_reading=True)
        record = self.read_record()
        labels = {"name": "NAME", "slug": "SLUG", "domain": "DOMAIN", "kind": "KIND"}
        values = {attr: self.record_value(record, t, label) for attr, label in labels.items()}
        for attr, label in t.OPTIONAL.items():
            if norm(label) in record:
                values[attr] = record[norm(label)]
        rows = self.read_table_if_there(self.manifests_table)
        manifests = None if rows is None else [
            ManifestSummary(
                query_param(row.link(t.SHOW_LINK), t.MANIFEST_ID_PARAM) or "",
                row[t.MANIFEST_VERSION],
                row[t.MANIFEST_STATUS],
            )
            for row in rows
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
            record = {f"record {a.lower()}": self.label(t, a) for a in ("NAME", "SLUG", "DOMAIN", "KIND")}
            show = {"heading": self.show_heading, **record}
            if MANIFESTS_ON_INDEX not in ids:  # else the manifests index must list them (ManifestsPage.screens)
                show["manifests table"] = self.manifests_table
            screens.append(Screen("hub page", t.SHOW_PATH.format(id=ids["hub_id"]), show))
            edit = {**form, "save button": self.save_button}
            screens.append(Screen("edit hub form", t.EDIT_PATH.format(id=ids["hub_id"]), edit, self.optional))
        return screens
