"""The studio's live preview of an issue with one file's unsaved text: the checked build
(``checked_findings``: the same build and checks as ``issue check``) of a draft copy."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.render.build import sample_values
from pipeline.render.draft import draft_folder, relabel, viewable
from pipeline.render.findings import Finding
from pipeline.sending.editions import checked_findings


@dataclass
class DraftPreview:
    findings: list[Finding]
    html: str = ""  # the email for the sample reader, viewable in the studio
    dark_html: str = ""  # the same with the dark-mode styles on
    text: str = ""  # the plain-text part
    subject: str = ""
    size: int = 0  # bytes of the HTML


def preview_draft(
    settings: Settings,
    engine: Engine | None,
    slug: str,
    rel: str,
    text: str,
    *,
    files_url: str,
) -> DraftPreview:
    """Build ``issues/<slug>`` with ``rel`` holding ``text`` (nothing is written to the
    issue folder). ``files_url``: where the studio serves the issue's images."""
    with draft_folder(settings, slug, rel, text) as copy:
        findings, build = checked_findings(settings, engine, slug, folder=copy)
        findings = relabel(settings, slug, copy, findings)
        if build is None:
            return DraftPreview(findings)
        personal = build.compiled.personalise(sample_values(settings, slug))
    return DraftPreview(
        findings,
        html=viewable(settings, slug, personal.html, files_url, dark=False),
        dark_html=viewable(settings, slug, personal.html, files_url, dark=True),
        text=personal.text,
        subject=personal.subject,
        size=len(personal.html.encode("utf-8")),
    )
