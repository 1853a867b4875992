"""Subscribers' names: what a signup may give, and what an email may show.

One rule, used everywhere a name reaches a person (the greeting's ``first_name`` and
``name`` values, the To display name of issues and of the confirmation and welcome emails):
:func:`display_name`. A name that looks like a web address or an email address, or holds
one (``https://evil.example/verify``, ``evil.example``, ``bob@example.com``), is never
shown: the email falls back to its neutral greeting and a bare To address. So a signup
cannot turn a newsletter into a phishing message ("Hi https://...").

:func:`check_signup_name` is what the public forms accept: at most ``MAX_NAME`` characters
of letters, marks, spaces and ``. ' ’ -``; other names are refused with a message.
Imported or stored names are not refused; :func:`display_name` still guards them.
"""

from __future__ import annotations

import re
import unicodedata

#: The longest name the public forms take (characters, after spaces are tidied).
MAX_NAME = 100

#: Punctuation a name may hold besides letters, marks and spaces.
NAME_PUNCTUATION = frozenset(".'’-")

# Something a mail client or a reader takes for a link or an address: a scheme (http:,
# mailto:), "www.", an @, or a dotted host ending in a top-level domain of letters
# ("evil.example", "bit.ly/x"). "J. R. Tolkien" and "Ann-Marie" are not.
_LINKLIKE = re.compile(
    r"\b[a-z][a-z0-9+.-]*:[^\s]|www\.|@|\b[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,63}\b",
    re.IGNORECASE,
)
# (after NFKC, which turns fullwidth "＠", "．" and "：" into their ASCII forms)


def tidy_name(value: str) -> str:
    """One line of printable text with single spaces (control characters dropped)."""
    kept = "".join(c for c in value if unicodedata.category(c)[0] != "C")
    return " ".join(kept.split())


def looks_like_link(name: str) -> bool:
    """True when ``name`` is, or holds, a web address or an email address."""
    text = name if name.isascii() else unicodedata.normalize("NFKC", name).replace("。", ".")
    # Most names hold none of ":@.": no regular expression at all (three substring scans in
    # C, not a generator over the characters: this runs for every recipient of a send).
    if ":" not in text and "@" not in text and "." not in text:
        return False
    return _LINKLIKE.search(text) is not None


def display_name(name: str) -> str:
    """The name an email may show (greeting, To header): ``name``, or '' when it looks like
    a link or an address (the email then uses its neutral form). A name with a line break
    is returned as it is, so that the recipient fails with a message saying to fix the data
    (``mime.format_address``) rather than being sent a changed name."""
    if not name or "\r" in name or "\n" in name:
        return name  # a line break is bad data: the header check refuses it and says so
    if looks_like_link(name):
        return ""
    return name


def check_signup_name(value: str) -> tuple[str, str]:
    """(the tidied name, a message for the person or '') for a name typed in a public form."""
    name = tidy_name(value)
    if len(name) > MAX_NAME:
        return name[:MAX_NAME], f"Please keep your name under {MAX_NAME} characters."
    allowed = all(
        c.isspace() or c in NAME_PUNCTUATION or unicodedata.category(c)[0] in "LM" for c in name
    )
    if not allowed or looks_like_link(name):
        return name, "Please write your name with letters only (no links or addresses)."
    return name, ""
