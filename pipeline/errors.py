"""One exception tree for everything a user can get wrong.

    NewsletterError                  base: ``str(err)`` is the whole user-facing message
    ├── ConfigError                  newsletter.toml or the environment
    ├── ContentError                 issue folders, front matter, articles, images
    │   └── CheckFailed              ``issue check`` found errors
    ├── RenderError                  Jinja or MJML templates
    ├── PersonalisationError         a per-recipient value that cannot be used (CR/LF in a header)
    ├── StoreError                   the database
    ├── SubscriberError              imports, addresses, lists, consent
    ├── SendError                    editions, the ledger, transports
    │   └── TransportError           a transport could not be used at all
    ├── ScheduleError                schedules and due editions
    ├── ApprovalError                editorial review: submit, approve, reject
    │   └── NotApproved              an issue that needs approval is not approved (now)
    ├── FeedError                    feeds and the inbox
    ├── WebError                     tokens and web requests
    ├── TrackingError                open and click tracking, statistics, charts
    └── AccountError                 the studio's accounts and API tokens
        └── LoginError               a sign-in refused (wrong password, locked, disabled)

Every error carries *what* happened, *where* (file and line, or row) when known, and *how to
fix it*. Where they are caught:

- at the edges: the CLI prints ``Error: <message>`` and exits 1 (``cli.app.NewsletterGroup``);
  the web app answers any that leaves a route in one handler (``web.pages.newsletter_error``:
  400 for a bad link or address, 503 for the database or a transport, else 500; a page or
  JSON);
- where one bad thing must not stop the rest, and is recorded with its message: a feed
  (``feeds.sources``), an import row (``subscribers.importing``, into the rejects file), an
  issue folder in ``issue list`` (``content.issues``), one recipient's personalisation
  (``sending.engine``, ``transports.sendgrid``: a failed delivery), an edition that
  ``send-due`` cannot send and the digest (``scheduling``), one webhook event
  (``sending.events``), a welcome email after the subscription stands (``web.signup``), a
  rebuild in the preview server (``render.preview``);
- where a caller adds context or cleans up and re-raises: a template error with its file and
  line (``render.environment``), a ``TransportError`` that gives the ledger claim back
  (``sending.engine``), a load error shown as a check finding (``cli.issue``).

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class NewsletterError(Exception):
    """Base of every error a user can fix. ``str()`` gives the full message."""

    def __init__(
        self,
        what: str,
        *,
        fix: str | None = None,
        path: str | Path | None = None,
        line: int | None = None,
    ) -> None:
        self.what = what
        self.fix = fix
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.message)

    @property
    def location(self) -> str | None:
        if self.path is None:
            return None
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    @property
    def message(self) -> str:
        text = self.what
        if self.location:
            text = f"{self.location}: {text}"
        if self.fix:
            text = f"{text} ({self.fix})"
        return text

    def __str__(self) -> str:
        return self.message


class ConfigError(NewsletterError):
    """newsletter.toml or an environment variable is missing or wrong."""


class ContentError(NewsletterError):
    """An issue folder, article, front matter block or image is wrong."""


class CheckFailed(ContentError):
    """`issue check` found at least one error; the findings are attached."""

    def __init__(self, what: str, findings: list[object], *, fix: str | None = None) -> None:
        self.findings = findings
        super().__init__(what, fix=fix)


class RenderError(NewsletterError):
    """A Jinja or MJML template failed."""


class PersonalisationError(NewsletterError):
    """A per-recipient value cannot be placed where it would go."""


class StoreError(NewsletterError):
    """The database cannot be reached or is in an unexpected state."""


class SubscriberError(NewsletterError):
    """Subscriber data (imports, addresses, lists) is wrong."""


class SendError(NewsletterError):
    """An edition cannot be sent, resumed, cancelled or reported."""


class TransportError(SendError):
    """A transport cannot be used (bad settings, missing key, unreachable server)."""


class ScheduleError(NewsletterError):
    """A schedule is impossible (past time, non-existent local time, wrong state)."""


class ApprovalError(NewsletterError):
    """An editorial review step is not possible (wrong state, self-approval, no reason)."""


class NotApproved(ApprovalError):
    """``[editorial] require_approval`` is on and the issue is not approved, or its files
    changed since it was approved (which voids the approval)."""


class FeedError(NewsletterError):
    """A feed cannot be added, fetched or parsed."""


class WebError(NewsletterError):
    """A web request or token is invalid."""


class TrackingError(NewsletterError):
    """Open and click tracking, statistics and charts."""


class AccountError(NewsletterError):
    """An editor's account or an API token cannot be created, found or changed."""


class LoginError(AccountError):
    """A sign-in is refused: wrong address or password, too many failures, disabled.

    ``retry_after`` is the number of seconds until a locked sign-in may be tried again
    (0 when the refusal is not a lock)."""

    def __init__(self, what: str, *, fix: str | None = None, retry_after: int = 0) -> None:
        self.retry_after = retry_after
        super().__init__(what, fix=fix)
