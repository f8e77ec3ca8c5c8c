"""The sandbox's database: Inter-Hub's tables as the admin UI and v2 API use them.

SQLAlchemy Core, so the same schema runs on SQLite (default, a file) and PostgreSQL
(a ``postgresql://`` URL; the SQL fallback is tested against it). Two schema variants:
``older`` (today's production) and ``newer`` (first-class VSM metadata columns on hubs).
"""

from __future__ import annotations

import os

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.dialects.postgresql import JSONB

Schema = Literal["older", "newer"]
VSM_COLUMNS = ("hub_family", "vsm_function", "vsm_system")
REGISTRIES = ("widget_types", "event_types", "annotation_categories")

Json = JSON().with_variant(JSONB(), "postgresql")


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def _id() -> Column:
    return Column("id", Uuid, primary_key=True, default=new_id)


def _created() -> Column:
    return Column("created_at", DateTime(timezone=True), nullable=False, default=now)


@dataclass(frozen=True)
class Tables:
    metadata: MetaData
    schema: Schema
    users: Table
    sessions: Table
    hubs: Table
    manifests: Table
    widget_types: Table
    event_types: Table
    annotation_categories: Table
    policy_scopes: Table
    api_consumers: Table
    api_keys: Table
    access_tokens: Table
    widgets: Table

    def registry(self, name: str) -> Table:
        return getattr(self, name)


def build_tables(schema: Schema) -> Tables:
    md = MetaData()
    users = Table(
        "users",
        md,
        _id(),
        Column("email", String(200), nullable=False, unique=True),
        Column("password_hash", String(300), nullable=False),
        _created(),
    )
    sessions = Table(
        "sessions",
        md,
        Column("token", String(100), primary_key=True),
        Column("user_id", Uuid, ForeignKey("users.id", ondelete="CASCADE")),
        Column("flash_kind", String(20)),
        Column("flash_text", Text),
        Column("redirect_after_login", String(500)),
        Column("request_count", Integer, nullable=False, default=0),
        _created(),
    )
    vsm = [Column(name, String(40)) for name in VSM_COLUMNS] if schema == "newer" else []
    hubs = Table(
        "hubs",
        md,
        _id(),
        Column("name", String(200), nullable=False),
        Column("slug", String(63), nullable=False, unique=True),
        Column("domain", String(253), nullable=False),
        Column("kind", String(40), nullable=False),
        *vsm,
        _created(),
        Column("updated_at", DateTime(timezone=True), nullable=False, default=now),
    )
    manifests = Table(
        "hub_capability_manifests",
        md,
        _id(),
        Column("hub_id", Uuid, ForeignKey("hubs.id", ondelete="CASCADE"), nullable=False),
        Column("version", String(40), nullable=False),
        Column("capability_description", Text, nullable=False),
        Column("contact", String(200), nullable=False),
        Column("declared_widget_types", Json, nullable=False, default=list),
        Column("declared_event_types", Json, nullable=False, default=list),
        Column("declared_annotation_categories", Json, nullable=False, default=list),
        Column("declared_policy_scopes", Json, nullable=False, default=list),
        Column("status", String(20), nullable=False, default="draft"),  # draft | active | retired
        Column("activated_at", DateTime(timezone=True)),
        _created(),
        Column("updated_at", DateTime(timezone=True), nullable=False, default=now),
        UniqueConstraint("hub_id", "version", name="hub_capability_manifests_hub_id_version_key"),
    )

    def registry(name: str, *, named: bool = True) -> Table:
        """A vocabulary registry: entries published by a hub's active manifest."""
        return Table(
            name,
            md,
            _id(),
            Column("hub_id", Uuid, ForeignKey("hubs.id", ondelete="CASCADE"), nullable=False),
            Column(
                "hub_capability_manifest_id",
                Uuid,
                ForeignKey("hub_capability_manifests.id", ondelete="CASCADE"),
                nullable=False,
            ),
            Column("key", String(120), nullable=False, unique=True),
            *([Column("name", String(200), nullable=False)] if named else []),
            Column("description", Text, nullable=False, default=""),
            _created(),
        )

    policy_scopes = registry("policy_scopes", named=False)  # a scope has a key, no display name
    api_consumers = Table(
        "api_consumers",
        md,
        _id(),
        Column("name", String(100), nullable=False, unique=True),
        Column("description", Text, nullable=False),
        Column(
            "hub_capability_manifest_id",
            Uuid,
            ForeignKey("hub_capability_manifests.id"),
            nullable=False,
        ),
        _created(),
    )
    api_keys = Table(
        "api_keys",
        md,
        _id(),
        Column("api_consumer_id", Uuid, ForeignKey("api_consumers.id", ondelete="CASCADE"), nullable=False),
        Column("key_hash", String(64), nullable=False, unique=True),  # sha256 hex; the key itself is never stored
        Column("key_prefix", String(12), nullable=False),
        Column("scopes", Text, nullable=False),
        _created(),
        Column("revoked_at", DateTime(timezone=True)),
    )
    access_tokens = Table(
        "access_tokens",
        md,
        _id(),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("api_consumer_id", Uuid, ForeignKey("api_consumers.id", ondelete="CASCADE"), nullable=False),
        Column("scopes", Text, nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False),
        _created(),
    )
    widgets = Table(
        "widgets",
        md,
        _id(),
        Column("hub_id", Uuid, ForeignKey("hubs.id", ondelete="CASCADE"), nullable=False),
        Column("name", String(63), nullable=False),
        Column("title", String(200), nullable=False),
        Column("widget_type", String(120), nullable=False),
        Column("config", Json, nullable=False, default=dict),
        _created(),
        UniqueConstraint("hub_id", "name", name="widgets_hub_id_name_key"),
    )
    return Tables(
        md,
        schema,
        users,
        sessions,
        hubs,
        manifests,
        registry("widget_types"),
        registry("event_types"),
        registry("annotation_categories"),
        policy_scopes,
        api_consumers,
        api_keys,
        access_tokens,
        widgets,
    )


def engine_for(db: str) -> Engine:
    """A path (SQLite file), ``sqlite:///...`` or ``postgresql://...`` URL."""
    if db.startswith("postgresql://") or db.startswith("postgres://"):
        url = "postgresql+psycopg://" + db.split("://", 1)[1]
        return create_engine(url, pool_pre_ping=True)
    url = db if db.startswith("sqlite:") else f"sqlite:///{db}"
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:" and not url.startswith("sqlite:///:"):
        # 0600 from the first byte: it holds the admin's password hash and live sessions
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # WAL keeps it consistent; a sandbox needs no fsync per commit
        cur.close()

    return engine


def existing_schema(engine: Engine) -> Schema | None:
    """The variant of an existing database, or None when it has no hubs table yet."""
    inspector = inspect(engine)
    if not inspector.has_table("hubs"):
        return None
    columns = {c["name"] for c in inspector.get_columns("hubs")}
    return "newer" if set(VSM_COLUMNS) <= columns else "older"


def open_database(db: str, schema: Schema) -> tuple[Engine, Tables, bool]:
    """Open ``db``; create the ``schema`` tables if it is empty.

    Returns the engine, the tables as the database really has them (an existing database
    keeps its variant) and whether the tables were created now.
    """
    engine = engine_for(db)
    found = existing_schema(engine)
    tables = build_tables(found or schema)
    tables.metadata.create_all(engine)
    return engine, tables, found is None
