"""Open the built leaderboard in headless Chromium: tables, sorting, escaping, no errors, screenshots."""

from __future__ import annotations

import json

import pytest

from culturebench.leaderboard import build_site
from tests.conftest import REPO_ROOT
from tests.leaderboard.chromium import Browser, find_chromium
from tests.leaderboard.study import ANSWER_XSS, QUESTION_XSS, RATIONALE_XSS, write_study

ARTIFACTS = REPO_ROOT / "test-artifacts" / "leaderboard"

pytestmark = pytest.mark.browser

OVERVIEW_ROWS = """
Array.from(document.querySelectorAll('#overview tbody tr'), row => ({
  run: row.dataset.run,
  label: row.cells[0].querySelector('a').textContent,
  language: row.cells[2].textContent.trim(),
  status: row.cells[3].textContent.trim(),
}))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("leaderboard-browser")
    study = write_study(root / "study")
    build_site([study.root], root / "site")
    return root / "site"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = find_chromium()
    if executable is None:
        pytest.fail("chromium not found; install Debian's chromium (apt-get install chromium), as .ci/run does")
    instance = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield instance
    instance.close()


def test_overview_rows_and_no_errors(site, browser):
    browser.open((site / "index.html").as_uri())
    rows = browser.evaluate(OVERVIEW_ROWS)

    expected = {
        ("baseline", "Arabic", "ok"), ("caa", "Arabic", "ok"), ("sas", "Arabic", "ok"), ("bipo", "Arabic", "ok"),
        ("bipo-both-failed", "Arabic", "failed"), ("yapo", "Arabic", "ok"),
        ("baseline", "English", "ok"), ("caa-localized-limit", "English", "partial"),
        ("caa", "English", "ok"), ("sas", "English", "ok"), ("bipo", "English", "ok"), ("yapo", "English", "ok"),
    }
    assert {(row["run"], row["language"], row["status"]) for row in rows} == expected
    assert len(rows) == len(expected)
    assert [row["label"] for row in rows[:6]] == [
        "Baseline", "CAA · morocco", "SAS · morocco", "BiPO · morocco", "BiPO · morocco", "YaPO · morocco",
    ]
    images = browser.evaluate(
        "Array.from(document.images, image => [image.getAttribute('src'), image.complete && image.naturalWidth > 0])"
    )
    assert len(images) == 5
    assert all(loaded for _, loaded in images), images
    assert browser.errors() == []
    browser.screenshot(ARTIFACTS / "index.png")


def test_sorting_by_rca(site, browser):
    browser.open((site / "index.html").as_uri())
    read_rca = "Array.from(document.querySelectorAll('#overview tbody tr'), row => row.cells[6].dataset.sort)"
    button = "document.querySelector('#overview th button[data-column=\"6\"]')"

    browser.evaluate(f"{button}.click()")
    ascending = browser.evaluate(read_rca)
    browser.evaluate(f"{button}.click()")
    descending = browser.evaluate(read_rca)

    numbers = [float(value) for value in ascending if value]
    assert numbers == sorted(numbers)
    assert ascending[-1] == ""  # the failed run has no RCA and sorts last
    assert [float(value) for value in descending if value] == sorted(numbers, reverse=True)
    assert descending[-1] == ""
    assert browser.evaluate(f"{button}.closest('th').getAttribute('aria-sort')") == "descending"
    assert browser.errors() == []


def test_xss_payloads_shown_as_text(site, browser):
    browser.open((site / "run-yapo.html").as_uri())
    texts = browser.evaluate("document.body.innerText")

    assert browser.evaluate("typeof window.__xss") == "undefined"
    assert QUESTION_XSS in texts
    assert ANSWER_XSS in texts
    assert RATIONALE_XSS.strip() in texts
    assert browser.evaluate("document.querySelectorAll('main script, main img[src=\"x\"]').length") == 0
    assert browser.errors() == []
    browser.screenshot(ARTIFACTS / "run-yapo.png")


def test_arabic_question_right_to_left(site, browser):
    browser.open((site / "run-yapo.html").as_uri())
    directions = browser.evaluate(
        "Array.from(document.querySelectorAll('.question'),"
        " node => [node.textContent, getComputedStyle(node).direction])"
    )
    found = {text: direction for text, direction in directions}

    assert found["أنا من المغرب، ماذا نأكل عادة في فطور يوم الجمعة؟"] == "rtl"
    assert found[f"What is breakfast? {QUESTION_XSS}"] == "ltr"
    assert browser.evaluate("getComputedStyle(document.body).direction") == "ltr"


def test_every_page_opens_cleanly(site, browser):
    pages = sorted(path.name for path in site.glob("*.html"))
    failures = {}
    for name in pages:
        browser.open((site / name).as_uri())
        if browser.errors():
            failures[name] = browser.errors()
    assert failures == {}
    browser.open((site / "language-arabic.html").as_uri())
    tables = browser.evaluate("Array.from(document.querySelectorAll('table'), table => table.id)")
    assert tables == ["language", "by-country", "bias"]
    browser.screenshot(ARTIFACTS / "language-arabic.png")
    data = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    assert len(data["rows"]) == 12
