"""The API consumer screens: index /ApiConsumers, new /ApiConsumers/new, show
/ShowApiConsumer?apiConsumerId=, and its API key form, whose answer shows the key once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.sync_api import Error as PlaywrightError

from pages.base import CHOICE, TEXT, AdminPage, Row, Screen, norm, query_param


class ApiConsumersTexts:
    UI_TEXTS_SECTION = "api_consumers"
    INDEX_PATH = "/ApiConsumers"
    NEW_PATH = "/ApiConsumers/new"
    SHOW_PATH = "/ShowApiConsumer?apiConsumerId={id}"
    ID_PARAM = "apiConsumerId"
    SHOW_HEADING = "Show Api Consumer"
    NAME = "Name"
    DESCRIPTION = "Description"
    MANIFEST = "Hub Capability Manifest"  # the form's select, or the "... Id" box IHP generates
    # the index's column of the manifest ("ops-hub 1.0"); IHP's generated index has the MANIFEST
    # id column instead ("Hub Capability Manifest Id"), and no key column (the show page says)
    MANIFEST_COLUMN = "Manifest"
    API_KEY = "API Key"  # column and record label: "No API key" or "<prefix>… created <time>"
    KEY_SCOPES = "Key Scopes"
    NO_KEY = "No API key"
    KEY_PREFIX = r"^(\S+?)…"  # a regular expression: the key's prefix as the UI shows it
    SCOPES = "Scopes"
    CREATE_BUTTON = "Create Api Consumer"
    GENERATE_BUTTON = "Generate API key"
    REGENERATE_BUTTON = "Regenerate API key"
    KEY_FIELD = "API key"  # the read-only field that shows a new key, once
    SHOW_LINK = "Show"


@dataclass(frozen=True)
class ConsumerSummary:
    id: str
    name: str
    description: str
    manifest: str  # as the index shows it, e.g. "ops-hub 1.0", or the manifest's id
    key_prefix: str | None  # None: the consumer has no key
    key_listed: bool = True  # False: the index has no key column (key_prefix says nothing)


@dataclass(frozen=True)
class ConsumerDetails:
    id: str
    fields: dict[str, str]
    key_prefix: str | None
    key_scopes: list[str]


class ApiConsumersPage(AdminPage):
    SCREEN = "Api Consumers"

    def __init__(self, *args, **kwargs):  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        t = ApiConsumersTexts
        self.index_table = self.table(t, "NAME", "DESCRIPTION", one_of=("MANIFEST_COLUMN", "MANIFEST"))
        self.show_heading = self.heading(t, "SHOW_HEADING")
        self.name = self.field(t, "NAME")
        self.description = self.field(t, "DESCRIPTION")
        self.manifest = self.reference_field(t, "MANIFEST")
        self.scopes = self.field(t, "SCOPES")
        self.create_button = self.button(t, "CREATE_BUTTON")
        self.generate_button = self.button(t, "GENERATE_BUTTON")
        self.regenerate_button = self.button(t, "REGENERATE_BUTTON")
        self.key_target = self.field(t, "KEY_FIELD")
        self.key_field = self.key_target.locator  # a Locator: the run masks it in screenshots

    # -------------------------------------------------------------- index

    def list(self, *, reuse_open_page: bool = False) -> list[ConsumerSummary]:
        """The index, read. ``reuse_open_page``: read it where the last submit landed, if there."""
        self._open(ApiConsumersTexts.INDEX_PATH, reuse_open_page=reuse_open_page)
        return [self._summary(row) for row in self.read_table(self.index_table)]

    def find(self, name: str) -> ConsumerSummary | None:
        return next((c for c in self.list() if c.name == name), None)

    def _summary(self, row: Row) -> ConsumerSummary:
        t = ApiConsumersTexts
        key = row.cells.get(norm(t.API_KEY))
        return ConsumerSummary(
            id=query_param(row.link(t.SHOW_LINK), t.ID_PARAM) or "",
            name=row[t.NAME],
            description=row[t.DESCRIPTION],
            manifest=row.reference(t.MANIFEST_COLUMN) or row.reference(t.MANIFEST) or "",
            key_prefix=_key_prefix(key or ""),
            key_listed=key is not None,
        )

    # -------------------------------------------------------------- new / show

    def create(self, name: str, description: str, manifest_id: str) -> str | None:
        """Create a consumer bound to the (active) manifest ``manifest_id``; returns its id where
        the page it landed on names it (else see :meth:`listed_id`)."""
        self._open(ApiConsumersTexts.NEW_PATH)
        self.fill_form((self.name, name, TEXT), (self.description, description, TEXT), (self.manifest, manifest_id, CHOICE))
        listed = self.listing(self.index_table, name)
        self._submit(self.create_button, self.saved(self.show_heading, listed), what="create the API consumer")
        return self.landed_id(ApiConsumersTexts.ID_PARAM)

    def listed_id(self, name: str) -> str:
        """The id of the consumer ``name``, from the index (read where it is open already: where
        IHP's generated create lands)."""
        found = next((c for c in self.list(reuse_open_page=True) if c.name == name), None)
        return self.saved_id(found, f"the API consumer {name!r}", ApiConsumersTexts.INDEX_PATH)

    def show(self, consumer_id: str, *, reuse_open_page: bool = False) -> ConsumerDetails:
        """The consumer's show page, read. ``reuse_open_page``: read it where creating the
        consumer landed instead of loading it again."""
        t = ApiConsumersTexts
        self._open(t.SHOW_PATH.format(id=consumer_id), reuse_open_page=reuse_open_page)
        self.one(self.show_heading, before_reading=True)
        fields = self.read_record()
        return ConsumerDetails(
            id=consumer_id,
            fields=fields,
            key_prefix=_key_prefix(self.record_value(fields, t, "API_KEY")),
            key_scopes=fields.get(norm(t.KEY_SCOPES), "").split(),
        )

    # -------------------------------------------------------------- the one-time key

    def open_key_form(self, scopes: list[str]) -> None:
        """Fill the key form on the open show page (apart from the reveal, so that callers can
        stop recording before the key appears)."""
        self.fill_field(self.scopes, " ".join(scopes))

    def reveal_key(self, *, replace_existing: bool = False) -> str:
        """Generate the key and read it once from the page. With ``replace_existing`` the
        page's Regenerate button is used and its ``confirm()`` accepted: the current key is
        revoked."""
        button = self.regenerate_button if replace_existing else self.generate_button
        self.one(button)  # before the dialog handler: a missing button is said as such
        self.ensure_on_target("generate the API key")
        # the page may show the key: no dialog's text goes into an error
        self._submit_with_dialogs(button, self.key_target, what="generate the API key", confirm=replace_existing, quote=False)
        self.ensure_on_target("read the API key")
        return self.key_field.input_value()

    def key_on_screen(self) -> str | None:
        """The key if the page shows one now (to register it as a secret after a failure)."""
        try:
            if self.key_field.count() == 1:
                return self.key_field.input_value(timeout=1000)
        except PlaywrightError:
            pass
        return None

    def leave_key_page(self) -> None:
        """Unload the page that shows the key, so that it is in no document any more (the
        blank page needs no request; the next step navigates where it needs to). Raises when
        the page could not be left while the browser still runs."""
        try:
            self.page.goto("about:blank")
        except PlaywrightError:
            if not self.browser_gone():
                raise

    def screens(self, ids: dict[str, str]) -> list[Screen]:
        t = ApiConsumersTexts
        form = {"name": self.name, "description": self.description, "manifest select": self.manifest}
        screens = [
            Screen("api consumers index", t.INDEX_PATH, {"consumers table": self.index_table}),
            Screen("new api consumer form", t.NEW_PATH, {**form, "create button": self.create_button}),
        ]
        if "consumer_id" in ids:
            key_button = self.generate_button.locator.or_(self.regenerate_button.locator)
            record = {"record api key": self.label(t, "API_KEY")}
            show = {"heading": self.show_heading, **record, "scopes": self.scopes, "key button": key_button}
            screens.append(Screen("api consumer page", t.SHOW_PATH.format(id=ids["consumer_id"]), show))
        return screens


def _key_prefix(text: str) -> str | None:
    if not text or norm(text).startswith(norm(ApiConsumersTexts.NO_KEY)):
        return None
    match = re.match(ApiConsumersTexts.KEY_PREFIX, text)
    return match.group(1) if match else text.split()[0]
