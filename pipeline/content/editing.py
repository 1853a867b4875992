"""Editing an issue folder from the studio: read and save its Markdown files, add and
reorder articles, store uploaded images.

The folder on disk stays the source of truth. Every file is read with a *version* (the
sha256 of its bytes); a save names the version it started from, and is refused with
``EditConflict`` (carrying the text now on disk) when someone saved the file in between, so
the second editor sees the other's change and nothing is lost. Saves are atomic (a temporary
file renamed into place) and serialised per issue folder by a lock file.

    files = issue_files(settings, slug)          # ["issue.md", "articles/01-a.md", ...]
    text, version = read_file(settings, slug, "issue.md")
    version = save_file(settings, slug, "issue.md", new_text, base=version)
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import Settings
from pipeline.content.frontmatter import parse_front_matter
from pipeline.content.gitsave import commit_paths
from pipeline.content.issues import (
    SAMPLE_ARTICLE,
    _write_atomic,
    check_slug,
    display_path,
)
from pipeline.errors import ContentError, NewsletterError

#: The email's width in pixels (templates/email/layout.mjml.j2); uploads are resized to it.
EMAIL_WIDTH = 600
#: The largest image accepted (before resizing).
MAX_IMAGE_BYTES = 8 * 1024 * 1024
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "WEBP": "webp"}
_ARTICLE = re.compile(r"^articles/[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.md$")


class EditConflict(ContentError):
    """The file changed on disk since the editor opened it."""

    def __init__(self, rel: str, current: str, version: str) -> None:
        super().__init__(
            f"{rel} was saved by someone else since you opened it",
            path=rel,
            fix="your text is kept below theirs: merge the two and save again",
        )
        self.current = current
        self.version = version


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def issue_folder(settings: Settings, slug: str) -> Path:
    """``issues/<slug>/``; ContentError when the slug is not a folder name or there is no
    such issue."""
    check_slug(slug)
    folder = settings.issues_dir / slug
    if not (folder / "issue.md").is_file():
        raise ContentError(
            f"issue '{slug}' not found",
            path=display_path(settings, folder),
            fix="see 'newsletter issue list', or create it with 'newsletter issue new SLUG'",
        )
    return folder


def check_rel(rel: str) -> str:
    """``rel`` when it names a Markdown file the studio edits: issue.md or articles/*.md."""
    if rel == "issue.md" or _ARTICLE.match(rel):
        return rel
    raise ContentError(
        f"'{rel}' is not a file of the issue that can be edited",
        fix="edit issue.md or a file articles/NAME.md",
    )


def _order(settings: Settings, folder: Path) -> list[str] | None:
    """The ``articles:`` list of issue.md, or None when it has none (or does not parse)."""
    try:
        front = parse_front_matter((folder / "issue.md").read_text("utf-8"), "issue.md")
    except (NewsletterError, OSError, UnicodeDecodeError):
        return None
    names = front.data.get("articles")
    if not isinstance(names, list):
        return None
    return [str(n).removesuffix(".md") for n in names]


def issue_files(settings: Settings, slug: str) -> list[str]:
    """issue.md, then the article files in the order the issue uses them (articles the
    ``articles:`` list leaves out come last, so nothing on disk is hidden)."""
    folder = issue_folder(settings, slug)
    present = sorted(p.stem for p in (folder / "articles").glob("*.md"))
    order = _order(settings, folder) or []
    named = [n for n in order if n in present]
    rest = [n for n in present if n not in named]
    return ["issue.md"] + [f"articles/{n}.md" for n in named + rest]


def read_file(settings: Settings, slug: str, rel: str) -> tuple[str, str]:
    """The text of ``rel`` in the issue and its version."""
    path = issue_folder(settings, slug) / check_rel(rel)
    if not path.is_file():
        raise ContentError(f"{rel} not found", path=rel, fix="choose a file of the issue")
    data = path.read_bytes()
    try:
        return data.decode("utf-8"), version_of(data)
    except UnicodeDecodeError:
        raise ContentError(f"{rel} is not UTF-8 text", path=rel, fix="save it as UTF-8") from None


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    lock = folder / ".studio.lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True)
class Editor:
    """Who saves: the author of the git commit when ``[studio] git_commit`` is on."""

    name: str
    email: str


def save_file(
    settings: Settings, slug: str, rel: str, text: str, *, base: str, editor: Editor | None = None
) -> str:
    """Write ``text`` to ``rel`` when the file is still at version ``base`` (the empty
    string: the file must not exist yet), and commit it when ``[studio] git_commit`` is on.
    Returns the new version; raises EditConflict with the text on disk otherwise."""
    folder = issue_folder(settings, slug)
    path = folder / check_rel(rel)
    text = text.replace("\r\n", "\n")
    with _locked(folder):
        data = path.read_bytes() if path.is_file() else b""
        now = version_of(data) if path.is_file() else ""
        if now != base:
            raise EditConflict(rel, data.decode("utf-8", "replace"), now)
        _write_atomic(path, text)
        _commit(settings, slug, [path], editor, f"studio: {slug}/{rel}")
    return version_of(text.encode("utf-8"))


def _commit(
    settings: Settings, slug: str, paths: list[Path], editor: Editor | None, message: str
) -> None:
    if editor is not None:
        commit_paths(settings, paths, author=editor.name, email=editor.email, message=message)


def _file_name(title: str) -> str:
    plain = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return words[:60].strip("-") or "article"


def new_article(settings: Settings, slug: str, title: str, editor: Editor | None = None) -> str:
    """Add ``articles/NN-title.md`` (after the others) with the sample front matter and the
    given title; returns its path in the issue. An ``articles:`` list in issue.md gets it
    appended."""
    title = title.strip()
    if not title:
        raise ContentError("an article needs a title", fix="type its title")
    files = issue_files(settings, slug)
    folder = settings.issues_dir / slug
    number = len(files)  # issue.md + the articles: the next number
    name = f"{number:02d}-{_file_name(title)}"
    while (folder / "articles" / f"{name}.md").exists():
        number += 1
        name = f"{number:02d}-{_file_name(title)}"
    quoted = title.replace('"', "'")
    text = SAMPLE_ARTICLE.replace("title: Your first article", f'title: "{quoted}"', 1)
    rel = f"articles/{name}.md"
    save_file(settings, slug, rel, text, base="", editor=editor)
    order = _order(settings, folder)
    if order is not None:
        reorder_articles(settings, slug, [*order, name], editor)
    return rel


def move_article(
    settings: Settings, slug: str, rel: str, step: int, editor: Editor | None = None
) -> None:
    """Move the article ``rel`` ``step`` places (-1: up, 1: down) in the issue's order."""
    names = [
        f.removeprefix("articles/").removesuffix(".md") for f in issue_files(settings, slug)[1:]
    ]
    name = check_rel(rel).removeprefix("articles/").removesuffix(".md")
    if name not in names:
        raise ContentError(f"article '{name}' not found", fix="reload the page")
    at = names.index(name)
    to = min(max(at + step, 0), len(names) - 1)
    names.insert(to, names.pop(at))
    reorder_articles(settings, slug, names, editor)


def _without_articles_key(lines: list[str]) -> list[str]:
    kept: list[str] = []
    skipping = False
    for line in lines:
        if skipping and (line.startswith((" ", "\t", "-")) and line.strip()):
            continue
        skipping = False
        if re.match(r"^articles\s*:", line):
            skipping = True
            continue
        kept.append(line)
    return kept


def reorder_articles(
    settings: Settings, slug: str, names: Sequence[str], editor: Editor | None = None
) -> None:
    """Set the ``articles:`` list of issue.md to ``names`` (file names without ``.md``,
    each an existing article), keeping every other line of the file as it is."""
    folder = issue_folder(settings, slug)
    clean = [n.removeprefix("articles/").removesuffix(".md") for n in names]
    for name in clean:
        check_rel(f"articles/{name}.md")
        if not (folder / "articles" / f"{name}.md").is_file():
            raise ContentError(f"article '{name}' not found", fix="reload the page")
    if len(set(clean)) != len(clean):
        raise ContentError("an article is named twice", fix="name each article once")
    with _locked(folder):
        path = folder / "issue.md"
        text = path.read_text("utf-8")
        lines = text.split("\n")
        if not lines or lines[0].strip() != "---" or "---" not in [x.strip() for x in lines[1:]]:
            raise ContentError(
                "issue.md has no front matter", path="issue.md", line=1, fix="start it with ---"
            )
        end = 1 + [x.strip() for x in lines[1:]].index("---")
        front = _without_articles_key(lines[1:end])
        front.append(f"articles: [{', '.join(clean)}]")
        _write_atomic(path, "\n".join([lines[0], *front, *lines[end:]]))
        _commit(settings, slug, [path], editor, f"studio: {slug}: the order of the articles")


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg")


def issue_image(settings: Settings, slug: str, path: str) -> Path:
    """The image file ``path`` inside the issue folder (for the studio's preview)."""
    folder = issue_folder(settings, slug).resolve()
    target = (folder / path).resolve()
    if (
        not target.is_relative_to(folder)
        or any(part.startswith(".") for part in Path(path).parts)
        or target.suffix.lower() not in IMAGE_SUFFIXES
        or not target.is_file()
    ):
        raise ContentError(f"no image '{path}' in the issue", fix="check the image's path")
    return target


@dataclass(frozen=True)
class StoredImage:
    rel: str  # its path in the issue folder, e.g. images/serum.png
    width: int
    height: int
    markdown: str  # ![alt](images/serum.png), for a file in the issue folder


def store_image(
    settings: Settings,
    slug: str,
    filename: str,
    data: bytes,
    alt: str,
    *,
    near: str = "",
    editor: Editor | None = None,
) -> StoredImage:
    """Save an uploaded image into the issue's ``images/`` folder, resized to the email's
    width when wider. ``alt`` (what the picture shows) is required. ``near``: the file the
    Markdown will go in (an article's link starts with ``../``)."""
    from PIL import Image, UnidentifiedImageError

    folder = issue_folder(settings, slug)
    alt = " ".join(alt.split())
    if not alt:
        raise ContentError(
            "an image needs its alt text",
            fix="describe what the picture shows, for people who cannot see it",
        )
    if len(data) > MAX_IMAGE_BYTES:
        raise ContentError("the image is larger than 8 MB", fix="upload a smaller file")
    try:
        opened = Image.open(io.BytesIO(data))
        opened.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ContentError(
            "this file is not an image that can be read", fix="upload a PNG, JPEG, GIF or WebP"
        ) from None
    kind = IMAGE_FORMATS.get(opened.format or "")
    if kind is None:
        raise ContentError(f"{opened.format} images are not taken", fix="upload a PNG or JPEG")
    image: Image.Image = opened
    resized = image.width > EMAIL_WIDTH and kind != "gif"  # an animated GIF keeps its frames
    if resized:
        height = max(1, round(image.height * EMAIL_WIDTH / image.width))
        image = image.resize((EMAIL_WIDTH, height), Image.Resampling.LANCZOS)
    stem = _file_name(Path(filename).stem) if filename else "image"
    target_dir = folder / "images"
    target_dir.mkdir(exist_ok=True)
    target = target_dir / f"{stem}.{kind}"
    n = 2
    while target.exists():
        target = target_dir / f"{stem}-{n}.{kind}"
        n += 1
    if not resized:
        target.write_bytes(data)  # unchanged: the uploaded bytes as they are
    else:
        out = io.BytesIO()
        if kind == "jpg" and image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        image.save(out, format="JPEG" if kind == "jpg" else kind.upper(), optimize=True)
        target.write_bytes(out.getvalue())
    rel = f"images/{target.name}"
    _commit(settings, slug, [target], editor, f"studio: {slug}/{rel}")
    link = f"../{rel}" if near.startswith("articles/") else rel
    safe_alt = alt.replace("[", "(").replace("]", ")")
    return StoredImage(rel, image.width, image.height, f"![{safe_alt}]({link})")
