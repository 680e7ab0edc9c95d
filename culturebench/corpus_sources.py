"""Offline text sources for the SAE training corpus: Debian text packages and the bundled seeds.

Each reader yields `Document`s (text, language, source). Debian packages are fetched with
`apt-get download` and unpacked with `dpkg-deb -x` into a work folder, so nothing is installed
system-wide and no root access is needed beyond what apt's package lists require.
"""

from __future__ import annotations

import gettext
import gzip
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator

from culturebench.errors import CultureBenchError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Document:
    """One piece of corpus text with the language and source it came from."""

    text: str
    language: str
    source: str


@dataclass(frozen=True)
class DebianSource:
    """A Debian package and how to read text for one language out of it."""

    package: str
    language: str
    reader: str  # name of a reader in READERS
    pattern: str  # glob, relative to the unpacked package root
    license: str


DEBIAN_SOURCES = (
    DebianSource("fortunes", "english", "fortune", "usr/share/games/fortunes/*", "BSD (4.4BSD fortune files)"),
    DebianSource("fortunes-es", "spanish", "fortune", "usr/share/games/fortunes/es/*", "quotes presumed public domain, packaging GPL-2+"),
    DebianSource("fortunes-br", "portuguese", "fortune", "usr/share/games/fortunes/brasil", "GPL-2+"),
    DebianSource("gnome-user-docs", "english", "markup", "usr/share/help/C/gnome-help/*.page", "CC-BY-SA-3.0"),
    DebianSource("gnome-user-docs", "spanish", "markup", "usr/share/help/es/gnome-help/*.page", "CC-BY-SA-3.0"),
    DebianSource("gnome-user-docs", "portuguese", "markup", "usr/share/help/pt*/gnome-help/*.page", "CC-BY-SA-3.0"),
    DebianSource("gnome-user-docs", "hindi", "markup", "usr/share/help/hi/gnome-help/*.page", "CC-BY-SA-3.0"),
    DebianSource("libreoffice-help-hi", "hindi", "markup", "usr/share/libreoffice/help/hi/text/**/*.html", "MPL-2.0"),
    DebianSource("libreoffice-l10n-hi", "hindi", "messages", "usr/lib/libreoffice/program/resource/hi/LC_MESSAGES/*.mo", "MPL-2.0"),
    DebianSource("libreoffice-l10n-ar", "arabic", "messages", "usr/lib/libreoffice/program/resource/ar/LC_MESSAGES/*.mo", "MPL-2.0"),
    DebianSource("debian-reference-es", "spanish", "gzip-text", "usr/share/debian-reference/*.es.txt.gz", "GPL-2+"),
    DebianSource("debian-reference-pt-br", "portuguese", "gzip-text", "usr/share/debian-reference/*.pt-br.txt.gz", "GPL-2+"),
)


def fetch_debian_packages(packages: list[str], work_dir: Path) -> dict[str, dict]:
    """Download and unpack each package into `work_dir/<package>`; return {package: {version, root}}."""
    downloads = work_dir / "debs"
    downloads.mkdir(parents=True, exist_ok=True)
    result: dict[str, dict] = {}
    for package in sorted(set(packages)):
        existing = sorted(downloads.glob(f"{package}_*.deb"))
        if not existing:
            _run(["apt-get", "download", package], cwd=downloads)
            existing = sorted(downloads.glob(f"{package}_*.deb"))
        if not existing:
            raise CultureBenchError(f"apt-get download {package} produced no .deb file in {downloads}")
        deb = existing[-1]
        root = work_dir / "unpacked" / package
        if not root.is_dir():
            staging = root.with_name(f".{package}-partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            _run(["dpkg-deb", "-x", str(deb), str(staging)])
            os.replace(staging, root)
        version = _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()
        result[package] = {"version": version, "root": root, "deb": deb.name}
    return result


def _run(command: list[str], cwd: Path | None = None) -> str:
    try:
        completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True)
    except FileNotFoundError as error:
        raise CultureBenchError(f"{command[0]} not found: the Debian text sources need apt-get and dpkg-deb") from error
    except subprocess.CalledProcessError as error:
        raise CultureBenchError(
            f"`{' '.join(command)}` failed: {error.stderr.strip()}. Run `apt-get update` first, or pass "
            f"--no-debian to build the corpus without Debian packages"
        ) from error
    return completed.stdout


def read_debian_source(source: DebianSource, root: Path) -> Iterator[Document]:
    """Yield the documents of one `DebianSource` from its unpacked package root."""
    reader = READERS[source.reader]
    paths = sorted(path for path in root.glob(source.pattern) if path.is_file() and "/off/" not in str(path))
    script = SCRIPTS.get(source.language)
    for path in paths:
        for text in reader(path):
            lines = [line for line in _clean(text).split("\n") if "@" not in line]
            # Translated documentation leaves many strings in English, so for languages with their
            # own script only lines mostly written in that script are kept.
            if script:
                lines = [line for line in lines if _script_share(line, script) >= 0.5]
            text = "\n".join(lines).strip()
            if len(text) >= 20:
                yield Document(text, source.language, f"debian:{source.package}")


SCRIPTS = {"arabic": re.compile(r"[\u0600-\u06FF\u0750-\u077F]"), "hindi": re.compile(r"[\u0900-\u097F]")}


def _script_share(line: str, script: re.Pattern) -> float:
    """Return the fraction of the line's letters that belong to `script`."""
    letters = [char for char in line if char.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for char in letters if script.match(char)) / len(letters)


def _read_fortunes(path: Path) -> Iterator[str]:
    # Fortune files separate entries with a line holding only "%"; their .dat indexes are binary.
    if path.suffix in {".dat", ".u8"} or path.name.endswith(".dat"):
        return
    raw = path.read_bytes()
    text = raw.decode("utf-8") if _is_utf8(raw) else raw.decode("latin-1")
    yield from re.split(r"\n%\n", text)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _TextExtractor(HTMLParser):
    """Collect the text of an HTML or XML document, one paragraph per block element."""

    SKIPPED = {"script", "style", "code", "screen", "cmd", "key", "media"}
    BLOCKS = {"p", "h1", "h2", "h3", "h4", "li", "td", "title", "item", "desc", "div", "section"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self.current: list[str] = []
        self.skip_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIPPED:
            self.skip_depth += 1
        elif tag in self.BLOCKS:
            self._close()

    def handle_endtag(self, tag):
        if tag in self.SKIPPED:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in self.BLOCKS:
            self._close()

    def handle_data(self, data):
        if not self.skip_depth:
            self.current.append(data)

    def _close(self) -> None:
        paragraph = " ".join("".join(self.current).split())
        if paragraph:
            self.paragraphs.append(paragraph)
        self.current = []


def _read_markup(path: Path) -> Iterator[str]:
    extractor = _TextExtractor()
    extractor.feed(path.read_text(encoding="utf-8", errors="replace"))
    extractor.close()
    extractor._close()
    text = "\n".join(extractor.paragraphs)
    if text:
        yield text


def _read_messages(path: Path) -> Iterator[str]:
    with path.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    strings = [value for key, value in catalog.items() if key and isinstance(value, str) and value.strip()]
    # UI strings are short, so consecutive ones are joined into paragraphs of ~20 strings.
    for start in range(0, len(strings), 20):
        yield "\n".join(strings[start:start + 20])


def _read_gzip_text(path: Path) -> Iterator[str]:
    text = gzip.decompress(path.read_bytes()).decode("utf-8", errors="replace")
    yield from (block for block in re.split(r"\n\s*\n", text) if block.strip())


READERS = {
    "fortune": _read_fortunes,
    "markup": _read_markup,
    "messages": _read_messages,
    "gzip-text": _read_gzip_text,
}


def _clean(text: str) -> str:
    text = text.replace("\r", "").replace("\t", " ")
    text = re.sub(r"[ \u00a0]{2,}", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def read_seed_files(seed_dir: Path) -> Iterator[Document]:
    """Yield every free-text string (questions, options, answers) of the bundled seed YAML files."""
    import yaml

    for path in sorted(seed_dir.glob("*.yaml")):
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
        language = content.get("language", path.stem) if isinstance(content, dict) else path.stem
        for text in _strings(content):
            if len(text) >= 20:
                yield Document(text, language, f"seeds:{path.name}")


def _strings(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node.strip()
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)
