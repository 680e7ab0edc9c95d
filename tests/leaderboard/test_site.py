"""The built site: files, escaping, RTL, offline-only assets, CSP, determinism, rebuilds and the CLI."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil

import pytest
from markupsafe import escape

from culturebench.cli import main
from culturebench.errors import CultureBenchError
from culturebench.leaderboard import build_site
from culturebench.leaderboard.site import MARKER
from tests.leaderboard.study import ANSWER_XSS, ARABIC_QUESTION, QUESTION_XSS, RATIONALE_XSS


@pytest.fixture(scope="module")
def site(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "site"
    build_site([study.root], out)
    return out


def _pages(site) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(site.glob("*.html"))}


def test_expected_files_written(site):
    names = sorted(str(path.relative_to(site)) for path in site.rglob("*") if path.is_file())

    for name in ("index.html", "runs.html", "language-arabic.html", "language-english.html", "country-morocco.html",
                 "country-usa.html", "run-yapo.html", "run-bipo-both-failed.html", "leaderboard.json",
                 "plots/training-loss.svg", "plots/activation-patching.svg", "plots/multiplier-sweep-1.svg", "plots/multiplier-sweep-2.svg",
                 "plots/generalisation-1.svg", "plots/language-arabic-dominance.svg",
                 "plots/language-arabic-western.svg", MARKER):
        assert name in names
    assert not any(name.endswith(".tmp") for name in names)


def test_payloads_escaped_everywhere(site):
    for name, text in _pages(site).items():
        for payload in (QUESTION_XSS, ANSWER_XSS, RATIONALE_XSS):
            assert payload not in text, name
        assert text.count("<script") == 1, name
    run_page = _pages(site)["run-yapo.html"]
    assert str(escape(QUESTION_XSS)) in run_page
    assert str(escape(ANSWER_XSS)) in run_page
    assert str(escape(RATIONALE_XSS)) in run_page


def test_model_text_marked_dir_auto(site):
    run_page = _pages(site)["run-yapo.html"]

    assert f'<p class="question" dir="auto">{ARABIC_QUESTION}</p>' in run_page
    assert '<div class="answer" dir="auto">نأكل' in run_page
    assert '<html lang="en" dir="ltr">' in run_page


def test_no_remote_resources(site):
    for name, text in _pages(site).items():
        assert re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text, re.IGNORECASE) is None, name
        assert "http://" not in text, name
        assert "https://" not in text, name
        assert "@import" not in text, name
        assert "url(" not in text, name
    for svg in sorted((site / "plots").glob("*.svg")):
        text = svg.read_text(encoding="utf-8")
        assert re.search(r"href=\"(https?:)?//", text) is None, svg.name
        assert "<script" not in text, svg.name


def test_csp_hashes_match_inline_code(site):
    text = _pages(site)["index.html"]
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text).group(1)
    style = re.search(r"<style>(.*?)</style>", text, re.DOTALL).group(1)
    script = re.search(r"<script>(.*?)</script>", text, re.DOTALL).group(1)

    def digest(code: str) -> str:
        return "sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()

    assert f"style-src '{digest(style)}'" in csp
    assert f"script-src '{digest(script)}'" in csp
    assert "default-src 'none'" in csp


def test_overview_marks_status_and_best(site):
    text = _pages(site)["index.html"]
    rows = re.findall(r'<tr class="row-(\w+)" data-run="([^"]+)">', text)

    assert ("failed", "bipo-both-failed") in rows
    assert ("partial", "caa-localized-limit") in rows
    assert len(rows) == 12
    assert text.count('class="star"') >= 8


def test_provenance_shows_missing(site):
    text = _pages(site)["run-caa-localized-limit.html"]

    assert '<dt>Dataset SHA-256</dt>\n<dd class="mono" dir="auto"><span class="missing">missing</span></dd>' in text
    assert "evaluated 6 of 30 documents (--limit)" in text


def test_data_file_matches_rows(site, study):
    data = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    [yapo] = [row for row in data["rows"] if row["run"] == "yapo" and row["language"] == "english"]
    from culturebench import metrics

    expected = metrics.rca(metrics.accuracy(study.correct[("yapo", "english", "localized")]),
                           metrics.accuracy(study.correct[("yapo", "english", "nonlocalized")]))
    assert yapo["mcq"]["rca"]["value"] == round(expected, 6)
    assert yapo["open_ended"] is None
    assert len(data["runs"]) == 7


def test_same_inputs_same_bytes(study, site, tmp_path):
    copy = tmp_path / "elsewhere" / "study"
    shutil.copytree(study.root, copy)
    # The copied vector paths in model_args still point at the original files; run.json paths are relative.
    again = tmp_path / "again"
    build_site([copy], again)
    first = {str(p.relative_to(site)): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    second = {str(p.relative_to(again)): p.read_bytes() for p in again.rglob("*") if p.is_file()}

    assert sorted(first) == sorted(second)
    for name in first:
        assert first[name] == second[name], name


def test_rebuild_removes_stale_pages(study, tmp_path):
    copy = tmp_path / "study"
    for method in ("sas", "yapo"):
        shutil.copytree(study.runs[method], copy / method)
    out = tmp_path / "site"
    build_site([copy], out)
    shutil.rmtree(copy / "sas")
    build_site([copy], out)

    assert not (out / "run-sas.html").exists()
    assert (out / "run-yapo.html").exists()
    assert "run-sas.html" not in (out / MARKER).read_text(encoding="utf-8")


def test_foreign_directory_rejected(study, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    with pytest.raises(CultureBenchError, match="not written by culturebench leaderboard"):
        build_site([study.root], out)
    assert (out / "notes.txt").read_text() == "mine"


def test_nothing_found_rejected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CultureBenchError, match="no result files found under"):
        build_site([tmp_path / "empty"], tmp_path / "site")


def test_cli_builds_site(study, tmp_path, capsys):
    out = tmp_path / "site"
    code = main(["leaderboard", "--results", str(study.root), "--out", str(out), "--max-examples", "2",
                 "--title", "Lab <b>board</b>"])
    printed = capsys.readouterr().out

    assert code == 0
    assert printed.strip().endswith(str(out / "index.html"))
    assert "7 run(s)" in printed
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<title>Overview · Lab &lt;b&gt;board&lt;/b&gt;</title>" in index
    assert (out / "run-yapo.html").read_text(encoding="utf-8").count('<div class="example"') == 6


def test_cli_reports_missing_directory(tmp_path, capsys):
    code = main(["leaderboard", "--results", str(tmp_path / "nowhere"), "--out", str(tmp_path / "site")])

    assert code == 2
    assert "results directory" in capsys.readouterr().err


def test_unicode_run_name_gets_own_page(study, tmp_path):
    root = tmp_path / "results"
    shutil.copytree(study.runs["failed"], root / "failed")
    manifest = json.loads((root / "failed" / "run.json").read_text(encoding="utf-8"))
    manifest["name"] = "bipo المغرب"
    (root / "failed" / "run.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    build_site([root], tmp_path / "site")

    assert (tmp_path / "site" / "run-bipo-المغرب.html").is_file()
    assert 'href="run-bipo-المغرب.html"' in (tmp_path / "site" / "runs.html").read_text(encoding="utf-8")
