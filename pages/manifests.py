"""The hub capability manifest screens: new (/HubCapabilityManifests/new?hubId=), show, edit
with the four ``declared*`` JSON fields, and the Activate button (it asks ``confirm()``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Dialog

from pages.base import AdminPage, NotAsExpected, Screen


class ManifestsTexts:
    NEW_PATH = "/HubCapabilityManifests/new?hubId={hub_id}"
    SHOW_PATH = "/ShowHubCapabilityManifest?hubCapabilityManifestId={id}"
    EDIT_PATH = "/EditHubCapabilityManifest?hubCapabilityManifestId={id}"
    ID_PARAM = "hubCapabilityManifestId"
    SHOW_HEADING = "Show Hub Capability Manifest"
    RECORD_TABLE = "Hub Capability Manifest"
    VERSION = "Version"
    CAPABILITY_DESCRIPTION = "Capability Description"
    CONTACT = "Contact"
    STATUS = "Status"
    HUB = "Hub"
    ACTIVE = "active"
    DRAFT = "draft"
    # the JSON names of the vocabulary, by the label of their field and of their block on the show page
    VOCABULARY = {
        "declaredWidgetTypes": "Declared Widget Types",
        "declaredEventTypes": "Declared Event Types",
        "declaredAnnotationCategories": "Declared Annotation Categories",
        "declaredPolicyScopes": "Declared Policy Scopes",
    }
    # the show page's read-only JSON blocks, labelled like the edit fields
    VOCABULARY_BLOCK_CSS = 'pre[aria-label="{label}"]'
    CREATE_BUTTON = "Create Hub Capability Manifest"
    SAVE_BUTTON = "Save Hub Capability Manifest"
    ACTIVATE_BUTTON = "Activate"


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
        p = self.page
        self.show_heading = p.get_by_role("heading", name=t.SHOW_HEADING, exact=True)
        self.record_table = p.get_by_role("table", name=t.RECORD_TABLE, exact=True)
        self.version = p.get_by_label(t.VERSION, exact=True)
        self.capability_description = p.get_by_label(t.CAPABILITY_DESCRIPTION, exact=True)
        self.contact = p.get_by_label(t.CONTACT, exact=True)
        self.vocabulary_fields = {name: p.get_by_label(label, exact=True) for name, label in t.VOCABULARY.items()}
        self.create_button = p.get_by_role("button", name=t.CREATE_BUTTON, exact=True)
        self.save_button = p.get_by_role("button", name=t.SAVE_BUTTON, exact=True)
        self.activate_button = p.get_by_role("button", name=t.ACTIVATE_BUTTON, exact=True)
        self.status_active = self.record_table.get_by_role("row", name=re.compile(f"^{t.STATUS}")).get_by_text(
            t.ACTIVE, exact=True
        )

    def create(self, hub_id: str, version: str, capability_description: str, contact: str) -> str:
        """Create a draft manifest for the hub; returns its id."""
        self._open(ManifestsTexts.NEW_PATH.format(hub_id=hub_id))
        self.version.fill(version)
        self.capability_description.fill(capability_description)
        self.contact.fill(contact)
        self._submit(self.create_button, self.show_heading, what="create the manifest")
        return self.id_from_url(ManifestsTexts.ID_PARAM)

    def show(self, manifest_id: str) -> ManifestDetails:
        self._open(ManifestsTexts.SHOW_PATH.format(id=manifest_id))
        return self.read_details()

    def read_details(self) -> ManifestDetails:
        t = ManifestsTexts
        record = self.read_record(self.record_table)
        blocks: dict[str, str] = self.page.evaluate(
            """([labels, css]) => Object.fromEntries(labels.map(l => {
                const e = document.querySelector(css.replace('{label}', l));
                return [l, e ? e.textContent : null];
            }))""",
            [list(t.VOCABULARY.values()), t.VOCABULARY_BLOCK_CSS],
        )
        vocabulary: dict[str, Any] = {}
        for name, label in t.VOCABULARY.items():
            text = blocks.get(label)
            if text is None:
                raise self._error(NotAsExpected, f"the manifest page shows no {label!r} block")
            try:
                vocabulary[name] = json.loads(text)
            except json.JSONDecodeError:
                vocabulary[name] = text
        return ManifestDetails(
            id=self.id_from_url(t.ID_PARAM),
            hub_slug=record.get(t.HUB, ""),
            version=record.get(t.VERSION, ""),
            status=record.get(t.STATUS, ""),
            capability_description=record.get(t.CAPABILITY_DESCRIPTION, ""),
            contact=record.get(t.CONTACT, ""),
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
        if capability_description is not None:
            self.capability_description.fill(capability_description)
        if contact is not None:
            self.contact.fill(contact)
        for name, value in vocabulary.items():
            self.vocabulary_fields[name].fill(json.dumps(value, indent=2, ensure_ascii=False))
        self._submit(self.save_button, self.show_heading, what="save the manifest's vocabulary")

    def activate(self, manifest_id: str) -> None:
        """Press Activate on the show page and confirm the browser's dialog."""
        self._open(ManifestsTexts.SHOW_PATH.format(id=manifest_id))

        def confirm(dialog: Dialog) -> None:
            dialog.accept()

        self.page.once("dialog", confirm)
        try:
            self._submit(self.activate_button, self.status_active, what="activate the manifest")
        finally:
            self.page.remove_listener("dialog", confirm)

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        t = ManifestsTexts
        screens = []
        header = {"version": self.version, "capability description": self.capability_description, "contact": self.contact}
        if "hub_id" in ids:
            path = t.NEW_PATH.format(hub_id=ids["hub_id"])
            screens.append(Screen("new manifest form", path, {**header, "create button": self.create_button}))
        if "manifest_id" in ids:
            blocks = {label: self.page.locator(t.VOCABULARY_BLOCK_CSS.format(label=label)) for label in t.VOCABULARY.values()}
            show = {"heading": self.show_heading, "manifest record": self.record_table, **blocks}
            screens.append(Screen("manifest page", t.SHOW_PATH.format(id=ids["manifest_id"]), show))
        if "draft_manifest_id" in ids:
            draft = ids["draft_manifest_id"]
            fields = {label: self.vocabulary_fields[name] for name, label in t.VOCABULARY.items()}
            edit = {**header, **fields, "save button": self.save_button}
            screens.append(Screen("edit manifest form (draft)", t.EDIT_PATH.format(id=draft), edit))
            screens.append(Screen("draft manifest page", t.SHOW_PATH.format(id=draft), {"activate button": self.activate_button}))
        return screens
