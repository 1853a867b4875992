"""The draft check count that `issue list` shows is remembered until something it covers
changes (pipeline.render.checkcache)."""

from __future__ import annotations

import json

from pipeline.config import Settings
from pipeline.render.build import build_issue
from pipeline.render.checkcache import cache_path, check_key, draft_errors

SAMPLE = "2026-12-01-microneedling"


def _add_a_missing_image(settings: Settings) -> None:
    """An image that is not there is a blocking check error."""
    path = settings.issues_dir / SAMPLE / "issue.md"
    path.write_text(path.read_text() + "\n\n![A jar](images/not-there.png)\n")


def test_the_count_is_the_builds_and_is_stored_under_its_key(file_settings: Settings) -> None:
    assert draft_errors(file_settings, SAMPLE) == len(build_issue(file_settings, SAMPLE).errors)
    stored = json.loads(cache_path(file_settings, SAMPLE).read_text())
    assert stored == {"key": check_key(file_settings, SAMPLE), "errors": 0}


def test_a_stored_count_is_used_while_nothing_changed(file_settings: Settings) -> None:
    draft_errors(file_settings, SAMPLE)
    path = cache_path(file_settings, SAMPLE)
    # Planted: the same key with another count. Were the issue built, it would say 0.
    path.write_text(json.dumps({"key": check_key(file_settings, SAMPLE), "errors": 7}))
    assert draft_errors(file_settings, SAMPLE) == 7


def test_a_changed_issue_file_is_checked_again(file_settings: Settings) -> None:
    assert draft_errors(file_settings, SAMPLE) == 0
    _add_a_missing_image(file_settings)
    errors = draft_errors(file_settings, SAMPLE)
    assert errors >= 1
    assert errors == len(build_issue(file_settings, SAMPLE).errors)


def test_a_changed_template_brand_file_or_setting_changes_the_key(
    file_settings: Settings,
) -> None:
    key = check_key(file_settings, SAMPLE)
    template = next(file_settings.templates_dir.rglob("*.mjml*"))
    template.write_text(template.read_text() + "\n")
    after_template = check_key(file_settings, SAMPLE)
    assert after_template != key
    logo = file_settings.root / "brand" / "logo.png"
    logo.write_bytes(logo.read_bytes() + b"\0")
    after_brand = check_key(file_settings, SAMPLE)
    assert after_brand != after_template
    renamed = file_settings.model_copy(
        update={"newsletter": file_settings.newsletter.model_copy(update={"name": "Another name"})}
    )
    assert check_key(renamed, SAMPLE) != after_brand


def test_a_damaged_cache_file_means_a_new_build(file_settings: Settings) -> None:
    path = cache_path(file_settings, SAMPLE)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert draft_errors(file_settings, SAMPLE) == 0
    assert json.loads(path.read_text())["errors"] == 0


def test_secrets_are_not_part_of_the_key(file_settings: Settings) -> None:
    other = file_settings.model_copy(
        update={"secrets": file_settings.secrets.model_copy(update={"secret_key": "x" * 40})}
    )
    assert check_key(other, SAMPLE) == check_key(file_settings, SAMPLE)
