"""Settings: embedded defaults < newsletter.toml < environment < CLI flags.

Loaded once at the edge (the CLI or the web app) and passed down; no other module reads
``os.environ``. Secrets (API keys, passwords, the signing key) come only from the
environment, never from newsletter.toml.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import ConfigError
from pipeline.private import private_dir
from pipeline.tokens import Keys, check_secret_key, new_secret_key

CONFIG_NAME = "newsletter.toml"

# Environment variables read by the pipeline (all documented in the README).
ENV_CONFIG = "NEWSLETTER_CONFIG"
ENV_DATABASE_URL = "NEWSLETTER_DATABASE_URL"
ENV_TRANSPORT = "NEWSLETTER_TRANSPORT"
ENV_BASE_URL = "NEWSLETTER_BASE_URL"
ENV_SECRET_KEY = "NEWSLETTER_SECRET_KEY"
ENV_PREVIOUS_SECRET_KEY = "NEWSLETTER_PREVIOUS_SECRET_KEY"
ENV_SMTP_PASSWORD = "NEWSLETTER_SMTP_PASSWORD"
ENV_SENDGRID_KEY = "SENDGRID_API_KEY"
ENV_SENDGRID_WEBHOOK_KEY = "SENDGRID_WEBHOOK_PUBLIC_KEY"
ENV_DKIM_KEY = "NEWSLETTER_DKIM_PRIVATE_KEY"
ENV_IMAP_PASSWORD = "NEWSLETTER_IMAP_PASSWORD"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewsletterSection(_Model):
    name: str = "Glow Notes"
    tagline: str = "Beauty tips and news"
    language: str = "en"
    base_url: str = "http://127.0.0.1:8000"
    timezone: str = "Europe/London"
    postal_address: str = "Glow Notes, 1 Example Street, London EC1A 1AA, United Kingdom"
    logo: str = ""
    why: str = "You receive this email because you subscribed to {name}."

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for local testing)")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'Europe/London'"
            ) from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
GENERIC_FONTS = ("serif", "sans-serif", "monospace", "cursive", "system-ui")
BUTTON_RADII = {"pill": "24px", "rounded": "8px", "square": "0px"}


class BrandSection(_Model):
    """The brand kit: logo, colours, fonts and button shape (see docs/design.md).

    Colours are checked against each other at build (WCAG AA, 4.5:1) by
    ``pipeline.render.brand``; here only their form is checked."""

    logo: str = ""  # a PNG/JPEG/GIF under brand/ (served at {base_url}/brand/...) or a URL
    logo_alt: str = ""  # defaults to the newsletter's name
    logo_width: int = Field(200, ge=1, description="pixels in the email")
    primary: str = "#A23B5F"  # buttons and links
    accent: str = "#8E3354"  # headings, labels, the web version's signup band
    background: str = "#F7EFEC"  # behind the cards
    surface: str = "#FFFFFF"  # the cards
    soft: str = "#FBE9EE"  # tips and routine boxes
    text: str = "#2E2327"
    muted: str = "#5E4B52"
    button_text: str = "#FFFFFF"
    dark_background: str = "#1B1517"
    dark_surface: str = "#271F22"
    dark_soft: str = "#33242A"
    dark_text: str = "#F3E9EC"
    dark_muted: str = "#CDBAC1"
    dark_accent: str = "#F2A7C0"  # headings and links in dark mode
    heading_font: str = "Georgia, 'Times New Roman', serif"
    body_font: str = "'Helvetica Neue', Helvetica, Arial, sans-serif"
    font_css: str = ""  # stylesheet with @font-face rules: under brand/ or a URL
    button_shape: Literal["pill", "rounded", "square"] = "pill"

    @field_validator(
        "primary",
        "accent",
        "background",
        "surface",
        "soft",
        "text",
        "muted",
        "button_text",
        "dark_background",
        "dark_surface",
        "dark_soft",
        "dark_text",
        "dark_muted",
        "dark_accent",
    )
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _HEX_COLOUR.match(value.strip()):
            raise ValueError(f"{value!r} is not a colour like '#A23B5F' (# and six hex digits)")
        return value.strip().upper()

    @field_validator("heading_font", "body_font")
    @classmethod
    def _font(cls, value: str) -> str:
        last = value.rsplit(",", 1)[-1].strip().strip("'\"").lower()
        if last not in GENERIC_FONTS:
            raise ValueError(
                f"{value!r} does not end with a generic family; add a safe fallback, e.g."
                f' "{value}, Georgia, serif" or "{value}, Arial, sans-serif"'
            )
        if any(c in value for c in ';{}<>"'):
            raise ValueError("a font list holds names and commas only; quote names with '")
        return value

    @property
    def button_radius(self) -> str:
        return BUTTON_RADII[self.button_shape]


class SocialSection(_Model):
    """Social links in the footer of every email and page; empty ones are left out."""

    instagram: str = ""
    tiktok: str = ""
    pinterest: str = ""
    youtube: str = ""
    website: str = ""

    @field_validator("instagram", "tiktok", "pinterest", "youtube", "website")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not value.startswith("https://"):
            raise ValueError(f"{value!r} must be an https:// address")
        return value


class SenderSection(_Model):
    name: str = "Glow Notes"
    email: str = "hello@glownotes.example.com"
    reply_to: str = ""

    @field_validator("email", "reply_to")
    @classmethod
    def _address(cls, value: str) -> str:
        if value and ("@" not in value or any(c in value for c in "\r\n <>,")):
            raise ValueError(f"{value!r} is not an email address like news@example.com")
        return value

    @field_validator("name")
    @classmethod
    def _no_newlines(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("must be one line (it goes into the From header)")
        return value


class ListSection(_Model):
    slug: str
    name: str
    description: str = ""
    double_opt_in: bool = True
    # Tracking for editions sent to this list; false turns it off whatever [tracking] says.
    track_opens: bool = True
    track_clicks: bool = True

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not value or not all(c.isalnum() or c in "-_" for c in value):
            raise ValueError("use letters, digits, '-' and '_' only, e.g. 'beauty-tips'")
        return value


class DatabaseSection(_Model):
    url: str = "sqlite:///var/newsletter.db"


class SendingSection(_Model):
    transport: Literal["maildir", "smtp", "sendgrid"] = "maildir"
    rate_limit: float = Field(0.0, ge=0, description="messages per second; 0 means no cap")
    batch_size: int = Field(500, ge=1, le=10_000)
    max_attempts: int = Field(5, ge=1, le=20)
    backoff_base: float = Field(1.0, ge=0)
    backoff_max: float = Field(300.0, ge=0)
    pause_error_rate: float = Field(0.2, gt=0, le=1)
    pause_min_sample: int = Field(50, ge=1)
    max_lateness_hours: float = Field(24.0, gt=0)
    resend_in_flight: bool = True
    list_unsubscribe_mailto: str = ""
    claim_lease_seconds: float = Field(600.0, gt=0, description="seconds before reclaiming")
    workers: int = Field(
        0,
        ge=0,
        le=64,
        description="processes per send; 0 = one for SMTP, else one per CPU (docs/scaling.md)",
    )


class MaildirSection(_Model):
    path: str = "var/outbox"


class SmtpSection(_Model):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str = ""
    connections: int = Field(8, ge=1, le=64)
    timeout: float = Field(30.0, gt=0)
    local_hostname: str = ""


class SendgridSection(_Model):
    host: str = "https://api.sendgrid.com"
    batch_size: int = Field(1000, ge=1, le=1000)
    timeout: float = Field(30.0, gt=0)
    categories: list[str] = Field(default_factory=lambda: ["newsletter"])
    asm_group_id: int | None = None
    concurrency: int = Field(4, ge=1, le=32)


class DkimSection(_Model):
    enabled: bool = False
    domain: str = ""
    selector: str = ""
    private_key_path: str = ""


#: scheme://host[:port], as browsers send it in the Origin header.
ORIGIN = re.compile(r"https?://([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(:[0-9]{1,5})?")


class WebSection(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    signup_rate_limit: int = Field(5, ge=1, description="signups per IP per window")
    signup_rate_window: int = Field(3600, ge=1, description="seconds")
    confirm_cooldown: int = Field(
        86400, ge=1, description="seconds between two confirmation emails to one address"
    )
    altcha: bool = True  # proof-of-work bot check on the signup form
    altcha_cost: int = Field(2000, ge=1, le=1_000_000, description="PBKDF2 iterations per try")
    altcha_max_counter: int = Field(400, ge=2, description="tries: drawn in the upper half")
    embed_origins: list[str] = Field(default_factory=list)

    @field_validator("embed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(
                r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-fA-F:]+\](:[0-9]{1,5})?",
                item,
            ):
                raise ValueError(
                    f"{item!r} is not an origin; write scheme://host[:port] with no path, "
                    "like 'https://www.example.com'"
                )
        return value

    confirm_hourly_cap: int = Field(500, ge=1, description="confirmation emails per hour in all")
    queue_interval: float = Field(
        2.0, ge=0, description="seconds between two looks at the email queue; 0: cron only"
    )
    trusted_proxies: list[str] = Field(default_factory=list)
    webhook_max_age: int = Field(600, ge=1, description="seconds a webhook timestamp may age")
    consent_text: str = (
        "Yes, send me {name} by email. I can unsubscribe at any time with the link in every email."
    )


class TrackingSection(_Model):
    """First-party open and click tracking (docs/tracking.md)."""

    opens: bool = True  # a 1x1 pixel at the end of the HTML part
    clicks: bool = True  # links through {base_url}/l/{token}/{index}
    text_clicks: bool = False  # also the URLs of the plain-text part
    honeypot: bool = True  # a hidden link that only scanners follow
    prefetch_seconds: float = Field(
        30.0, ge=0, description="an open this soon after sending is a prefetch (machine)"
    )
    burst_seconds: float = Field(
        2.0, ge=0, description="clicks on several links within this many seconds: a scanner"
    )
    burst_links: int = Field(2, ge=2, description="distinct links that make a burst")
    scanner_agents: list[str] = Field(
        default_factory=list, description="more user-agent fragments of link scanners"
    )
    machine_networks: list[str] = Field(
        default_factory=list, description="CIDR ranges whose requests are machines"
    )
    utm: bool = False  # add UTM tags to outbound links
    utm_source: str = "newsletter"
    utm_medium: str = "email"
    utm_campaign: str = "{slug}"  # {slug} is the issue's slug

    @field_validator("machine_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not a network like 17.0.0.0/8") from None
        return value


class SecuritySection(_Model):
    """Signing keys (the keys themselves come only from the environment)."""

    # Links signed with NEWSLETTER_PREVIOUS_SECRET_KEY work until this time (ISO 8601);
    # empty: for as long as that variable is set.
    previous_key_until: datetime | None = None

    @field_validator("previous_key_until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class FeedSource(_Model):
    url: str
    name: str = ""
    tags: list[str] = Field(default_factory=list)


class FeedsSection(_Model):
    sources: list[FeedSource] = Field(default_factory=list)
    timeout: float = Field(10.0, gt=0)
    max_bytes: int = Field(5_000_000, ge=1024)
    max_redirects: int = Field(5, ge=0)
    concurrency: int = Field(8, ge=1, le=64)
    allow_data_images: bool = False
    user_agent: str = "newsletter-pipeline/0.1 (+https://github.com/)"


class DigestSection(_Model):
    enabled: bool = False
    days: list[str] = Field(default_factory=lambda: ["mon"])
    time: str = "09:00"
    tags: list[str] = Field(default_factory=list)
    lists: list[str] = Field(default_factory=list)
    min_entries: int = Field(3, ge=1)
    max_entries: int = Field(8, ge=1)
    auto_schedule: bool = False
    subject: str = "{name} digest: {date}"
    template: str = "digest"  # the layout of drafted digests (templates/email/<template>.mjml.j2)


class SegmentSection(_Model):
    """A named audience condition (``[[segments]]``), in the language of docs/audience.md."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    condition: str
    description: str = ""


class SignupField(_Model):
    """A custom field asked for (or set, when hidden) by the signup form."""

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")
    label: str = ""
    choices: list[str] = Field(default_factory=list)  # a menu; empty means free text
    hidden: bool = False  # not shown; ``value`` is stored for everyone who signs up
    value: str = ""


class AudienceSection(_Model):
    signup_fields: list[SignupField] = Field(default_factory=list)
    fields: list[str] = Field(
        default_factory=list, description="custom fields templates may use beyond those stored"
    )


class BouncesSection(_Model):
    """The bounce mailbox (VERP Return-Path) and how bounces turn into suppression."""

    mailbox: Literal["", "imap", "maildir"] = ""
    return_path: str = Field("", description="e.g. bounces@example.com; empty: no VERP")
    imap_host: str = "127.0.0.1"
    imap_port: int = Field(993, ge=1, le=65535)
    imap_security: Literal["ssl", "starttls", "none"] = "ssl"
    imap_username: str = ""
    imap_folder: str = "INBOX"
    imap_done_folder: str = Field("", description="move processed mail here; empty: flag it")
    maildir_path: str = "var/bounces"
    soft_limit: int = Field(3, ge=1, description="soft bounces within the window that suppress")
    soft_window_days: int = Field(30, ge=1)
    timeout: float = Field(30.0, gt=0)


class EditorialSection(_Model):
    """Editorial review: draft -> in review -> approved -> scheduled."""

    require_approval: bool = False  # unapproved issues cannot be scheduled or sent
    allow_self_approval: bool = False  # may the person who submitted an issue approve it?


class SunsetSection(_Model):
    min_issues: int = Field(3, ge=1, description="issues received before sunsetting applies")


class StudioSection(_Model):
    """The editors' studio (``/admin``) and the HTTP API (``/api/v1``): saving, sessions and
    sign-in."""

    git_commit: bool = Field(
        False, description="commit every save to git, with the editor as its author"
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="hours a sign-in lasts")
    login_max_failures: int = Field(5, ge=1, description="failed sign-ins per account per window")
    login_ip_max_failures: int = Field(20, ge=1, description="failed sign-ins per IP per window")
    login_window: int = Field(900, ge=1, description="seconds")


class Secrets(_Model):
    """Values that only ever come from the environment."""

    secret_key: str = ""
    previous_secret_key: str = ""
    smtp_password: str = ""
    sendgrid_api_key: str = ""
    sendgrid_webhook_public_key: str = ""
    dkim_private_key: str = ""
    imap_password: str = ""


class Settings(_Model):
    newsletter: NewsletterSection = NewsletterSection()
    brand: BrandSection = BrandSection()
    social: SocialSection = SocialSection()
    sender: SenderSection = SenderSection()
    lists: list[ListSection] = Field(
        default_factory=lambda: [
            ListSection(
                slug="beauty-tips",
                name="Beauty tips",
                description="Skin care and beauty tips, every other week.",
            ),
            ListSection(
                slug="news",
                name="Beauty news",
                description="News from the beauty world, now and then.",
            ),
        ]
    )
    database: DatabaseSection = DatabaseSection()
    sending: SendingSection = SendingSection()
    maildir: MaildirSection = MaildirSection()
    smtp: SmtpSection = SmtpSection()
    sendgrid: SendgridSection = SendgridSection()
    dkim: DkimSection = DkimSection()
    web: WebSection = WebSection()
    security: SecuritySection = SecuritySection()
    feeds: FeedsSection = FeedsSection()
    digest: DigestSection = DigestSection()
    segments: list[SegmentSection] = Field(default_factory=list)
    audience: AudienceSection = AudienceSection()
    bounces: BouncesSection = BouncesSection()
    sunset: SunsetSection = SunsetSection()
    editorial: EditorialSection = EditorialSection()
    tracking: TrackingSection = TrackingSection()
    studio: StudioSection = StudioSection()
    # Not read from the file:
    root: Path = Path(".")
    config_path: Path | None = None
    secrets: Secrets = Secrets()

    # ---- derived paths -------------------------------------------------------------
    def path(self, value: str | Path) -> Path:
        """Resolve a path from the settings against the newsletter's root folder."""
        p = Path(value)
        return p if p.is_absolute() else self.root / p

    @property
    def var_dir(self) -> Path:
        return self.root / "var"

    @property
    def issues_dir(self) -> Path:
        return self.root / "issues"

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def build_dir(self) -> Path:
        return self.var_dir / "build"

    @property
    def outbox_dir(self) -> Path:
        return self.path(self.maildir.path)

    @property
    def database_url(self) -> str:
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix) :]))
        return url

    @property
    def list_slugs(self) -> list[str]:
        return [item.slug for item in self.lists]

    def segment_named(self, name: str) -> SegmentSection | None:
        return next((item for item in self.segments if item.name == name), None)

    @property
    def keys(self) -> Keys:
        """The signing keys for tokens (current, and previous during a rotation)."""
        return _keys(
            self.secrets.secret_key,
            self.secrets.previous_secret_key,
            self.security.previous_key_until,
        )

    def list_named(self, slug: str) -> ListSection | None:
        return next((item for item in self.lists if item.slug == slug), None)


_SECTIONS: dict[str, type[BaseModel]] = {
    "newsletter": NewsletterSection,
    "brand": BrandSection,
    "social": SocialSection,
    "sender": SenderSection,
    "lists": ListSection,
    "database": DatabaseSection,
    "sending": SendingSection,
    "maildir": MaildirSection,
    "smtp": SmtpSection,
    "sendgrid": SendgridSection,
    "dkim": DkimSection,
    "web": WebSection,
    "security": SecuritySection,
    "feeds": FeedsSection,
    "digest": DigestSection,
    "segments": SegmentSection,
    "audience": AudienceSection,
    "bounces": BouncesSection,
    "sunset": SunsetSection,
    "editorial": EditorialSection,
    "tracking": TrackingSection,
    "studio": StudioSection,
}


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] | None = Settings
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = _SECTIONS.get(str(part))
        if str(part) == "sources":
            model = FeedSource
        if str(part) == "signup_fields":
            model = SignupField
    return list(model.model_fields) if model is not None else []


def _describe(error: Mapping[str, Any]) -> tuple[str, str, str]:
    loc = tuple(error["loc"])
    dotted = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in loc)
    dotted = dotted.replace(".[", "[")
    kind = error["type"]
    if kind == "extra_forbidden":
        known = [k for k in _known_keys(loc) if k not in {"root", "config_path", "secrets"}]
        near = difflib.get_close_matches(str(loc[-1]), known, n=1)
        fix = f"did you mean '{near[0]}'?" if near else f"known keys: {', '.join(known)}"
        return dotted, "unknown setting", fix
    if kind == "missing":
        return dotted, "missing", "add it to newsletter.toml"
    msg = str(error["msg"]).removeprefix("Value error, ")
    return dotted, msg, "see 'Configuration reference' in README.md"


def _secret_key(root: Path, env: Mapping[str, str]) -> str:
    """The signing key: from NEWSLETTER_SECRET_KEY, else a random one kept in var/.

    The file fallback keeps `make demo` working on a fresh machine; production sets the
    environment variable (links signed with a lost key stop working). A short or
    placeholder key is refused with how to make a good one.
    """
    if env.get(ENV_SECRET_KEY):
        return check_secret_key(env[ENV_SECRET_KEY])
    key_file = root / "var" / "secret.key"
    try:
        return check_secret_key(key_file.read_text().strip(), name=str(key_file))
    except FileNotFoundError:
        private_dir(key_file.parent)
        key = new_secret_key()
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key + "\n")
        return key


def secret_key_warning(settings: Settings, env: Mapping[str, str] | None = None) -> str | None:
    """What to tell the operator of a public newsletter (an https base_url) whose links are
    signed with the key kept in var/secret.key: fine for one machine, but a second machine
    (or a new deployment) would make a key of its own and the links of each would fail on
    the other. None when NEWSLETTER_SECRET_KEY is set or the newsletter is not public."""
    env = os.environ if env is None else env
    if env.get(ENV_SECRET_KEY) or not settings.newsletter.base_url.startswith("https://"):
        return None
    return (
        f"Warning: {ENV_SECRET_KEY} is not set, so the links in emails are signed with the key "
        "in var/secret.key. Every machine that sends or serves this newsletter must use the "
        f"same key: set {ENV_SECRET_KEY} to that file's value (links already sent keep working)."
    )


@lru_cache(maxsize=8)
def _keys(current: str, previous: str, until: datetime | None) -> Keys:
    return Keys(current, previous, until)


def find_config(start: Path | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file named by NEWSLETTER_CONFIG, else the nearest newsletter.toml in the
    folder or one of its parents (as git finds .git), else None."""
    env = os.environ if env is None else env
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG])
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate / CONFIG_NAME
    return None


def require_config(start: Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``find_config``, or a ConfigError that says where it looked and how to fix it: no
    command but ``init`` runs without a newsletter (nothing is created in the wrong folder)."""
    found = find_config(start, env)
    if found is not None:
        return found
    folder = (start or Path.cwd()).resolve()
    looked = folder if folder == folder.parent else f"{folder} and its parent folders"
    raise ConfigError(
        f"no {CONFIG_NAME} found: looked in {looked}; {ENV_CONFIG} is not set",
        fix=(
            "cd into your newsletter folder, pass --config PATH/newsletter.toml (or set "
            f"{ENV_CONFIG}), or start a newsletter here with 'newsletter init .'"
        ),
    )


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    *,
    root: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read newsletter.toml (if any), apply the environment, validate.

    ``env`` defaults to ``os.environ``; tests pass their own mapping.
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    label = CONFIG_NAME
    if path is not None:
        label = path.name
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(
                "configuration file not found",
                path=path,
                fix="run 'newsletter init DIR' to create one, or cd into your newsletter folder",
            ) from None
        except IsADirectoryError:
            raise ConfigError(
                "is a folder, not a configuration file",
                path=path,
                fix=f"name the file: --config {path / CONFIG_NAME}",
            ) from None
        except OSError as exc:
            raise ConfigError(
                f"cannot read the configuration file: {exc.strerror or exc}",
                path=path,
                fix="check the path and that you may read it",
            ) from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"not UTF-8 (byte {exc.start})", path=path, fix="save the file as UTF-8"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            found = re.search(r"\(at line (\d+)", str(exc))
            line = int(found.group(1)) if found else None
            what = str(exc).split(" (at line")[0]
            raise ConfigError(
                f"invalid TOML: {what}", path=path, line=line, fix="check the TOML syntax"
            ) from None
        root = root or path.resolve().parent
    root = (root or Path.cwd()).resolve()

    # Environment overrides for non-secret settings.
    if env.get(ENV_DATABASE_URL):
        data.setdefault("database", {})["url"] = env[ENV_DATABASE_URL]
    if env.get(ENV_TRANSPORT):
        data.setdefault("sending", {})["transport"] = env[ENV_TRANSPORT]
    if env.get(ENV_BASE_URL):
        data.setdefault("newsletter", {})["base_url"] = env[ENV_BASE_URL]
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        data.setdefault(section, {})[key] = value

    for forbidden in ("root", "config_path", "secrets"):
        if forbidden in data:
            raise ConfigError(
                f"{label}: {forbidden}: unknown setting",
                fix="secrets come only from the environment; see README",
            )
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        dotted, what, fix = _describe(first)
        more = len(exc.errors()) - 1
        suffix = f"; {more} more problem(s) after this one" if more > 0 else ""
        raise ConfigError(f"{label}: {dotted}: {what}{suffix}", fix=fix) from None

    slugs = settings.list_slugs
    dupes = sorted({s for s in slugs if slugs.count(s) > 1})
    if dupes:
        raise ConfigError(
            f"{label}: lists: the slug {dupes[0]!r} is used twice",
            fix="give every [[lists]] entry its own slug",
        )

    secrets_ = Secrets(
        secret_key=_secret_key(root, env),
        previous_secret_key=(
            check_secret_key(env[ENV_PREVIOUS_SECRET_KEY], name=ENV_PREVIOUS_SECRET_KEY)
            if env.get(ENV_PREVIOUS_SECRET_KEY)
            else ""
        ),
        smtp_password=env.get(ENV_SMTP_PASSWORD, ""),
        sendgrid_api_key=env.get(ENV_SENDGRID_KEY, ""),
        sendgrid_webhook_public_key=env.get(ENV_SENDGRID_WEBHOOK_KEY, ""),
        dkim_private_key=env.get(ENV_DKIM_KEY, ""),
        imap_password=env.get(ENV_IMAP_PASSWORD, ""),
    )
    names = [item.name for item in settings.segments]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(
            f"{label}: segments: the name {twice[0]!r} is used twice",
            fix="give every [[segments]] entry its own name",
        )
    return settings.model_copy(update={"root": root, "config_path": path, "secrets": secrets_})
