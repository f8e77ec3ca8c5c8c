"""The hub capability manifest screens: new (/HubCapabilityManifests/new?hubId=), show, edit
with the four ``declared*`` JSON fields, and the Activate button (it asks ``confirm()``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


from pages.base import REFERENCE, TEXT, AdminPage, Row, Screen, query_param, tolerant

# a key of the ids doctor opens screens with (see screens): the hub whose page lists no manifests
MANIFESTS_ON_INDEX = "hub_id_manifests_on_index"


class ManifestsTexts:
    UI_TEXTS_SECTION = "manifests"
    INDEX_PATH = "/HubCapabilityManifests?hubId={hub_id}"  # IHP's generated index ignores the hubId
    NEW_PATH = "/HubCapabilityManifests/new?hubId={hub_id}"
    SHOW_PATH = "/ShowHubCapabilityManifest?hubCapabilityManifestId={id}"
    EDIT_PATH = "/EditHubCapabilityManifest?hubCapabilityManifestId={id}"
    ID_PARAM = "hubCapabilityManifestId"
    SHOW_HEADING = "Show Hub Capability Manifest"
    VERSION = "Version"
    CAPABILITY_DESCRIPTION = "Capability Description"
    CONTACT = "Contact"
    STATUS = "Status"
    # the show page's label of the hub, the new form's field and the index's column where they
    # show it (IHP's generated form and index do: "Hub Id", and the index lists every hub's)
    HUB = "Hub"
    HUB_PARAM = "hubId"  # the hub page's id parameter, where the Hub column links to it
    SHOW_LINK = "Show"
    ACTIVE = "active"
    DRAFT = "draft"
    # the JSON names of the vocabulary, by the label of their field and the heading of their block
    # (a <pre> below it) on the show page
    VOCABULARY = {
        "declaredWidgetTypes": "Declared Widget Types",
        "declaredEventTypes": "Declared Event Types",
        "declaredAnnotationCategories": "Declared Annotation Categories",
        "declaredPolicyScopes": "Declared Policy Scopes",
    }
    CREATE_BUTTON = "Create Hub Capability Manifest"
    SAVE_BUTTON = "Save Hub Capability Manifest"
    ACTIVATE_BUTTON = "Activate"


@dataclass(frozen=True)
class ManifestSummary:
    id: str
    version: str
    status: str


@dataclass(frozen=True)
class ManifestDetails:
    id: str
    hub_slug: str
    version: str
    status: str
    capability_description: str
    contact: str
    vocabulary: dict[str, Any]  # JSON name -> parsed value (the text itself when it is not JSON)


class ManifestsPage(AdminPage):
    SCREEN = "Hub Capability Manifests"

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        t = ManifestsTexts
        self.show_heading = self.heading(t, "SHOW_HEADING")
        self.index_table = self.table(t, "VERSION", "STATUS", one_of=("HUB",))
        self.hub = self.reference_field(t, "HUB")
        self.version = self.field(t, "VERSION")
        self.capability_description = self.field(t, "CAPABILITY_DESCRIPTION")
        self.contact = self.field(t, "CONTACT")
        self.vocabulary_fields = {name: self.field(t, "VOCABULARY", name) for name in t.VOCABULARY}
        self.vocabulary_blocks = {name: self.block(t, "VOCABULARY", name) for name in t.VOCABULARY}
        self.create_button = self.button(t, "CREATE_BUTTON")
        self.save_button = self.button(t, "SAVE_BUTTON")
        self.activate_button = self.action(t, "ACTIVATE_BUTTON")
        # after activation, the status shown beside its label reads "active"
        self.status_active = self.root.get_by_text(tolerant(t.ACTIVE))

    def create(self, hub_id: str, version: str, capability_description: str, contact: str) -> str | None:
        """Create a draft manifest for the hub; returns its id where the page it landed on names
        it (else the hub's page or the manifests index lists it: ``flows.steps.hub.hub_manifests``)."""
        self._open(ManifestsTexts.NEW_PATH.format(hub_id=hub_id))
        self.fill_form(
            (self.hub, hub_id, REFERENCE),
            (self.version, version, TEXT),
            (self.capability_description, capability_description, TEXT),
            (self.contact, contact, TEXT),
        )
        self._submit(self.create_button, self.saved(self.show_heading), what="create the manifest")
        return self.landed_id(ManifestsTexts.ID_PARAM)

    def list(self, hub_id: str, *, hub_slug: str = "") -> list[ManifestSummary]:
        """The hub's manifests on the manifests index, by its Hub column (the index must have one:
        IHP's generated index lists every hub's manifests and ignores ``?hubId=``), for an app
        whose hub page lists none (a generated show page lists no child records)."""
        t = ManifestsTexts
        self._open(t.INDEX_PATH.format(hub_id=hub_id))
        return [summary(row) for row in self.rows_of(self.read_table(self.index_table), t.HUB, hub_id, hub_slug, t.HUB_PARAM)]

    def show(self, manifest_id: str) -> ManifestDetails:
        self._open(ManifestsTexts.SHOW_PATH.format(id=manifest_id))
        return self.read_details()

    def read_details(self) -> ManifestDetails:
        t = ManifestsTexts
        self.one(self.show_heading, before_reading=True)
        record = self.read_record()
        blocks = self.read_blocks(list(t.VOCABULARY.values()))
        vocabulary: dict[str, Any] = {}
        for name, label in t.VOCABULARY.items():
            text = blocks.get(label)
            if text is None:
                raise self.missing(self.vocabulary_blocks[name], count=0)
            try:
                vocabulary[name] = json.loads(text)
            except json.JSONDecodeError:
                vocabulary[name] = text
        return ManifestDetails(
            id=self.id_from_url(t.ID_PARAM),
            hub_slug=self.record_value(record, t, "HUB", required=False),
            version=self.record_value(record, t, "VERSION"),
            status=self.record_value(record, t, "STATUS"),
            capability_description=self.record_value(record, t, "CAPABILITY_DESCRIPTION", required=False),
            contact=self.record_value(record, t, "CONTACT", required=False),
            vocabulary=vocabulary,
        )

    def save(
        self,
        manifest_id: str,
        vocabulary: dict[str, Any],
        *,
        capability_description: str | None = None,
        contact: str | None = None,
    ) -> None:
        """Edit the draft: write the ``declared*`` JSON (and, if given, description and contact)."""
        self._open(ManifestsTexts.EDIT_PATH.format(id=manifest_id))
        fields = [(self.capability_description, capability_description, TEXT)] if capability_description is not None else []
        if contact is not None:
            fields.append((self.contact, contact, TEXT))
        for name, value in vocabulary.items():
            fields.append((self.vocabulary_fields[name], json.dumps(value, indent=2, ensure_ascii=False), TEXT))
        self.fill_form(*fields)
        self._submit(self.save_button, self.saved(self.show_heading), what="save the manifest's vocabulary")

    def activate(self, manifest_id: str, *, reuse_open_page: bool = False) -> None:
        """Press Activate on the show page and confirm the browser's dialog. ``reuse_open_page``:
        the show page is open already (where saving the vocabulary landed)."""
        self._open(ManifestsTexts.SHOW_PATH.format(id=manifest_id), reuse_open_page=reuse_open_page)
        self._submit_with_dialogs(self.activate_button, self.status_active, what="activate the manifest", confirm=True)

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        t = ManifestsTexts
        screens = []
        header = {"version": self.version, "capability description": self.capability_description, "contact": self.contact}
        if "hub_id" in ids:
            hub = ids["hub_id"]
            if MANIFESTS_ON_INDEX in ids:  # the hub's page lists none: the index must, by hub
                screens.append(Screen("manifests index", t.INDEX_PATH.format(hub_id=hub), {"manifests table": self.index_table}))
            form = {**header, "create button": self.create_button}
            screens.append(Screen("new manifest form", t.NEW_PATH.format(hub_id=hub), form, {"hub": self.hub}))
        if "manifest_id" in ids:
            blocks = {f"{name} block": self.vocabulary_blocks[name] for name in t.VOCABULARY}
            record = {f"record {a.lower()}": self.label(t, a) for a in ("VERSION", "STATUS")}
            show = {"heading": self.show_heading, **record, **blocks}
            screens.append(Screen("manifest page", t.SHOW_PATH.format(id=ids["manifest_id"]), show))
        if "draft_manifest_id" in ids:
            draft = ids["draft_manifest_id"]
            fields = {name: self.vocabulary_fields[name] for name in t.VOCABULARY}
            edit = {**header, **fields, "save button": self.save_button}
            screens.append(Screen("edit manifest form (draft)", t.EDIT_PATH.format(id=draft), edit))
            screens.append(Screen("draft manifest page", t.SHOW_PATH.format(id=draft), {"activate button": self.activate_button}))
        return screens


def summary(row: Row) -> ManifestSummary:
    """A manifest as a table of manifests lists it (the manifests index, or the hub's page)."""
    t = ManifestsTexts
    return ManifestSummary(query_param(row.link(t.SHOW_LINK), t.ID_PARAM) or "", row[t.VERSION], row[t.STATUS])
