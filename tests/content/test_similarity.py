"""Near-duplicate detection on the seed's rewrites and on different articles."""

from __future__ import annotations

from itertools import combinations

from pipeline.content.similarity import is_near_duplicate, similarity
from tests.conftest import DATA

SUNSCREEN = (
    "Sunscreen is the most important step in any skincare routine. Apply a broad-spectrum "
    "SPF 30 every morning, even on cloudy days, and reapply every two hours when outdoors. "
    "UV rays cause premature ageing and dark spots. Choose a formula that suits your skin."
)
CLEANSER = (
    "A gentle cleanser keeps your skin barrier healthy. Wash your face twice a day with "
    "lukewarm water, avoid harsh scrubs, and pat the skin dry with a clean towel. Follow "
    "with a moisturiser suited to your skin type, and patch-test every new product."
)


def seed_rewrites() -> list[str]:
    text = (DATA / "seed" / "microneedling.txt").read_text(encoding="utf-8")
    return text.split("Understanding Microneedling")


def test_every_pair_of_seed_rewrites_is_flagged() -> None:
    rewrites = seed_rewrites()
    assert len(rewrites) == 4
    for a, b in combinations(rewrites, 2):
        assert is_near_duplicate(a, b), similarity(a, b)


def test_different_skin_care_articles_are_not_flagged() -> None:
    assert not is_near_duplicate(SUNSCREEN, CLEANSER)
    for rewrite in seed_rewrites():
        assert not is_near_duplicate(SUNSCREEN, rewrite)
        assert not is_near_duplicate(CLEANSER, rewrite)


def test_short_texts_are_never_duplicates() -> None:
    assert similarity("Hello there", "Hello there") == 0.0
