"""Every table, as SQLAlchemy Core ``Table`` objects on one ``MetaData``.

The migrations in ``migrations/versions`` create exactly these tables; a test compares the
two, so a column added here without a migration fails the suite.

Times are stored in UTC (``UTCDateTime`` gives back aware datetimes on both databases).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

from pipeline.tokens import new_public_id

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=UTC)
        return stamp.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---- key/value facts about this database (e.g. the suppression-hash salt) ---------------
app_meta = Table(
    "app_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# ---- subscribers, lists, consent, suppression ------------------------------------------
subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Random, never reused: what links in emails carry (never the row id).
    Column("public_id", String(32), nullable=False, unique=True, default=new_public_id),
    Column("email", String(320), nullable=False, unique=True),  # normalised
    Column("name", String(200), nullable=False, default=""),
    Column("attributes", JSON, nullable=False, default=dict),
    # active | unsubscribed | bounced | complained
    Column("status", String(20), nullable=False, default="active"),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    # false: the person turned tracking off (direct links, no pixel); see docs/tracking.md
    Column("tracking", Boolean, nullable=False, default=True, server_default=text("true")),
    sqlite_autoincrement=True,  # an erased subscriber's id is never given to someone else
)

lists = Table(
    "lists",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(100), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("double_opt_in", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("list_id", Integer, ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True),
    # unconfirmed | confirmed | unsubscribed
    Column("status", String(20), nullable=False),
    Column("consent_at", UTCDateTime, nullable=True),
    # import | web | cli | api
    Column("consent_method", String(20), nullable=False),
    Column("consent_text", Text, nullable=False, default=""),  # form text or import file name
    Column("consent_ip", String(64), nullable=True),
    Column("confirmed_at", UTCDateTime, nullable=True),
    Column("confirm_ip", String(64), nullable=True),
    Column("unsubscribed_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_subscriptions_list_status", "list_id", "status", "subscriber_id"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("address_hash", String(64), primary_key=True),  # salted SHA-256 of the address
    # unsubscribed | bounced | complained | erased | manual
    Column("reason", String(20), nullable=False),
    Column("source", String(200), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

subscriber_tags = Table(
    "subscriber_tags",
    metadata,
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag", String(100), primary_key=True),  # lower-case
    Index("ix_subscriber_tags_tag", "tag", "subscriber_id"),
)

subscription_log = Table(
    "subscription_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=True,
    ),
    Column("list_id", Integer, ForeignKey("lists.id", ondelete="SET NULL"), nullable=True),
    Column("action", String(40), nullable=False),  # subscribe, confirm, unsubscribe, ...
    Column("old_status", String(20), nullable=True),
    Column("new_status", String(20), nullable=True),
    Column("method", String(20), nullable=False, default=""),
    Column("detail", JSON, nullable=False, default=dict),
    Column("ip", String(64), nullable=True),
    Column("at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_subscription_log_subscriber", "subscriber_id", "id"),
)

# ---- editions and the delivery ledger ---------------------------------------------------
editions = Table(
    "editions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(200), nullable=False, unique=True),
    # frozen | scheduled | sending | paused | cancelled | sent | missed
    Column("status", String(20), nullable=False),
    Column("subject", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("lists", JSON, nullable=False),  # audience definition: list slugs
    Column("segment", String(100), nullable=True),  # [[segments]] name, if any
    Column("segment_condition", Text, nullable=True),  # its condition when frozen
    Column("compiled", LargeBinary, nullable=False),  # serialised compiled edition
    Column("web_html", Text, nullable=False, default=""),
    Column("transport", String(20), nullable=True),
    Column("send_at", UTCDateTime, nullable=True),
    Column("claimed_by", String(100), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("pause_reason", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("frozen_at", UTCDateTime, nullable=False, default=utcnow),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    # A/B subject test (issue 18): {"sample": share, "wait_seconds": n, "winner_by": ...}
    Column("ab_test", JSON, nullable=True),
    Column("ab_winner", Integer, nullable=True),  # the variant the rest receives (0-based)
    Column("ab_decision", JSON, nullable=True),  # figures, rule and reason of the choice
    # Local-time sending (issue 18): the wall-clock time "2027-01-10 09:00" in each zone
    Column("send_at_local", String(16), nullable=True),
    # A snapshot taken in two parts (PostgreSQL): the subscriber id after which the rest of
    # the audience is still to be added; NULL once the whole audience is in the ledger.
    Column("snapshot_after", Integer, nullable=True),
    Index("ix_editions_status_send_at", "status", "send_at"),
)

edition_variants = Table(
    "edition_variants",
    metadata,
    Column("edition_id", Integer, ForeignKey("editions.id", ondelete="CASCADE"), nullable=False),
    Column("variant", Integer, nullable=False),  # 0-based: A, B, C, D
    Column("subject", Text, nullable=False),
    Column("preheader", Text, nullable=False, default=""),
    Column("compiled", LargeBinary, nullable=False),  # the edition compiled with it
    PrimaryKeyConstraint("edition_id", "variant", name="pk_edition_variants"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("edition_id", Integer, ForeignKey("editions.id", ondelete="CASCADE"), nullable=False),
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("email", String(320), nullable=False),
    # pending | in_flight | sent | failed | uncertain | cancelled | skipped
    Column("status", String(20), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claim_id", String(64), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("message_id", String(300), nullable=True),  # our Message-ID header
    Column("provider_id", String(300), nullable=True),  # provider's id (e.g. X-Message-Id)
    Column("error", Text, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
    # A/B test: the subject variant (0-based) of this row, fixed when the row is snapshot
    # (the sample) or when the winner is chosen (the rest); NULL: no test, or not chosen yet
    Column("variant", Integer, nullable=True),
    Column("in_sample", Boolean, nullable=False, default=False, server_default=text("false")),
    # Local-time sending: not claimed before this instant; the reader's zone
    Column("not_before", UTCDateTime, nullable=True),
    Column("zone", String(64), nullable=True),
    UniqueConstraint("edition_id", "subscriber_id", name="uq_deliveries_edition_subscriber"),
    Index("ix_deliveries_edition_status", "edition_id", "status", "id"),
)

delivery_events = Table(
    "delivery_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("provider_event_id", String(200), nullable=True, unique=True),  # sg_event_id
    Column(
        "delivery_id",
        Integer,
        ForeignKey("deliveries.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("edition_id", Integer, ForeignKey("editions.id", ondelete="SET NULL"), nullable=True),
    # delivered | open | click | bounce | dropped | deferred | spamreport | unsubscribe | ...
    Column("event", String(40), nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False, default=utcnow),
    # open and click only: human | machine (NULL for other kinds). Human figures and
    # engagement segments read event IN ('open', 'click') AND verdict = 'human'.
    Column("verdict", String(10), nullable=True),
    # the rule behind a machine verdict (pipeline.tracking.classify.REASONS), else NULL
    Column("reason", String(40), nullable=True),
    Column("link_index", Integer, nullable=True),  # edition_links.link_index of a click
    # sendgrid (Event Webhook) | tracking (our pixel and redirect) | web (our pages)
    Column("source", String(20), nullable=False, default="sendgrid", server_default="sendgrid"),
    Index("ix_delivery_events_edition_event", "edition_id", "event"),
    Index("ix_delivery_events_delivery_event", "delivery_id", "event", "occurred_at"),
    Index("ix_delivery_events_event_verdict", "event", "verdict", "occurred_at"),
)

# ---- the tracked links of each edition (indexed when it is frozen) ----------------------
edition_links = Table(
    "edition_links",
    metadata,
    Column(
        "edition_id",
        Integer,
        ForeignKey("editions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("link_index", Integer, primary_key=True),  # 0: the honeypot; 1..: links in order
    Column("url", Text, nullable=False),  # the redirect's target (UTM tags included)
    Column("text", Text, nullable=False, default=""),  # the link's visible text
    Column("kind", String(20), nullable=False, default="link"),  # link | honeypot | text
)

# ---- editorial review: draft -> in_review -> approved -> scheduled (pipeline.editorial) ----
issue_reviews = Table(
    "issue_reviews",
    metadata,
    Column("slug", String(200), primary_key=True),  # the issue folder's name
    # draft | in_review | approved | scheduled
    Column("state", String(20), nullable=False),
    Column("submitted_by", String(100), nullable=True),
    Column("submitted_at", UTCDateTime, nullable=True),
    Column("approved_by", String(100), nullable=True),
    Column("approved_at", UTCDateTime, nullable=True),
    # sha256 of the issue folder's files when it was approved (pipeline.editorial.hashing)
    Column("approved_hash", String(64), nullable=True),
    Column("updated_at", UTCDateTime, nullable=False, default=utcnow),
)

issue_review_log = Table(
    "issue_review_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "slug",
        String(200),
        ForeignKey("issue_reviews.slug", ondelete="CASCADE"),
        nullable=False,
    ),
    # submitted | approved | rejected | voided | scheduled | unscheduled
    Column("action", String(20), nullable=False),
    Column("by", String(100), nullable=False),  # a person, or "newsletter" for the pipeline
    Column("at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=True),
    Column("content_hash", String(64), nullable=True),  # the folder's hash at that moment
    Index("ix_issue_review_log_slug", "slug", "id"),
)

# ---- scheduled sending: one row per `newsletter send-due` run (is cron alive?) ----------
send_runs = Table(
    "send_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("worker", String(100), nullable=False),  # host:pid
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    # running | ok | failed (something was missed, paused, failed or raised)
    Column("status", String(20), nullable=False, default="running"),
    Column("editions", Integer, nullable=False, default=0),  # editions this run worked on
    Column("sent", Integer, nullable=False, default=0),  # messages this run sent
    Column("failed", Integer, nullable=False, default=0),
    Column("missed", Integer, nullable=False, default=0),
    Column("detail", JSON, nullable=False, default=list),  # one entry per edition
    Index("ix_send_runs_started_at", "started_at"),
)

# ---- feeds and the article inbox --------------------------------------------------------
feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("tags", JSON, nullable=False, default=list),
    Column("origin", String(20), nullable=False, default="cli"),  # cli | config
    Column("etag", String(300), nullable=True),
    Column("last_modified", String(100), nullable=True),
    Column("last_fetched_at", UTCDateTime, nullable=True),
    Column("last_status", String(40), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

inbox_entries = Table(
    "inbox_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL"), nullable=True),
    Column("guid", Text, nullable=False, unique=True),
    Column("link", Text, nullable=False, default=""),
    Column("normalized_link", Text, nullable=False, default=""),
    Column("title", Text, nullable=False, default=""),
    Column("summary_html", Text, nullable=False, default=""),
    Column("content_html", Text, nullable=False, default=""),
    Column("author", String(300), nullable=False, default=""),
    Column("published_at", UTCDateTime, nullable=True),
    Column("image_url", Text, nullable=True),
    Column("image_alt", Text, nullable=True),
    Column("tags", JSON, nullable=False, default=list),
    Column("source_name", String(300), nullable=False, default=""),
    Column("used_in", String(200), nullable=True),  # issue slug that used this entry
    Column("used_at", UTCDateTime, nullable=True),
    Column("fetched_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_inbox_entries_normalized_link", "normalized_link"),
    Index("ix_inbox_entries_published", "published_at"),
)

# ---- the web app ------------------------------------------------------------------------
web_rate_limits = Table(
    "web_rate_limits",
    metadata,
    Column("key", String(200), primary_key=True),  # e.g. "signup:203.0.113.7"
    Column("window_start", Integer, primary_key=True),  # unix seconds, start of the window
    Column("hits", Integer, nullable=False, default=0),
)

# ---- single-use tokens that were used (confirmation links) ------------------------------
spent_tokens = Table(
    "spent_tokens",
    metadata,
    Column("digest", String(64), primary_key=True),  # SHA-256 of the token's signature
    Column("purpose", String(32), nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # after this the token is dead anyway
    Index("ix_spent_tokens_expires_at", "expires_at"),
)

# ---- the studio: editors' accounts, API tokens, failed sign-ins, the audit log -----------
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Random, never reused: what session cookies carry (never the row id).
    Column("public_id", String(32), nullable=False, unique=True, default=new_public_id),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False, unique=True),  # lower-case
    Column("role", String(20), nullable=False),  # editor | approver | admin
    Column("password_hash", String(200), nullable=False),  # Argon2id, PHC string
    Column("disabled", Boolean, nullable=False, default=False),
    # Bumped when the password is reset or the account disabled: older sessions stop working.
    Column("session_epoch", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("last_login_at", UTCDateTime, nullable=True),
    sqlite_autoincrement=True,
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(20), nullable=False),  # editor | approver | admin
    Column("digest", String(64), nullable=False, unique=True),  # SHA-256 of the secret, hex
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    sqlite_autoincrement=True,
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(400), nullable=False),  # "account:<email>" or "ip:<address or /64>"
    Column("at", UTCDateTime, nullable=False),
    Index("ix_login_failures_key", "key", "at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, default=utcnow),
    Column("actor", String(400), nullable=False),  # an account's email, "token:<name>", "cli"
    Column("action", String(100), nullable=False),  # e.g. "login", "issue.schedule"
    Column("target", String(400), nullable=False, default=""),
    Column("detail", JSON, nullable=True),
    Index("ix_audit_log_at", "at"),
)

# ---- the queue of transactional emails (confirmation, welcome) --------------------------
# Written in the signup's own transaction, worked off the request path by the web app's
# background thread or `newsletter subscribers send-queued` (pipeline/sending/mail_queue.py).
mail_queue = Table(
    "mail_queue",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),  # confirm | welcome
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),  # erased: nothing left to send
        nullable=False,
    ),
    Column("lists", Text, nullable=False, default=""),  # list slugs, comma-separated
    # queued | sending | sent | skipped | failed
    Column("status", String(20), nullable=False, default="queued"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claim_id", String(32), nullable=True),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("due_at", UTCDateTime, nullable=False),  # not before (retries wait)
    Column("created_at", UTCDateTime, nullable=False),
    Column("done_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),  # why it was skipped or failed
    Index("ix_mail_queue_status_due_at", "status", "due_at"),
    Index("ix_mail_queue_subscriber_id", "subscriber_id"),
)
