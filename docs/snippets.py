"""Keep the code shown in the docs equal to the files the tests run.

Every fenced code block in README.md and docs/*.md whose info string is one of
CHECKED must sit right under a marker that names its source::

    <!-- snippet: examples/cli-tour/tour.sh#ingest -->

The path is relative to the repository root. Without ``#NAME`` the block shows the
whole file; with it, the region NAME: the lines between a line holding
``[docs:NAME]`` and a line holding ``[/docs:NAME]``, dedented. Lines holding a
region marker are never shown, so regions may nest or overlap. Blocks tagged
``text`` or ``console``, or with no info string, hold output and diagrams; they need
no marker (a marker above one is checked all the same).

    python3 docs/snippets.py           list every unmarked or stale block and broken
                                       link; exit status 1 if there is one
    python3 docs/snippets.py --write   first rewrite stale blocks from their sources
    python3 docs/snippets.py DOC ...   only these documents (with or without --write)

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = frozenset({"python", "py", "toml", "sh", "shell", "bash", "json", "jsonl"})

_MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<source>\S+?)\s*-->\s*$")
_SOURCE = re.compile(r"^(?P<path>[^#]+)(?:#(?P<region>[A-Za-z0-9_.-]+))?$")
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_REGION_LINE = re.compile(r"\[(?P<close>/?)docs:(?P<name>[A-Za-z0-9_.-]+)\]")
_INLINE_CODE = re.compile(r"(`+)(?:.+?)\1")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+[\"'(][^)]*)?\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(?P<target>\S+?)>?(?:\s.*)?$")
_SCHEME = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.*?)(?:\s+#+)?\s*$")
_HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"(?P<anchor>[^\"]+)\"")


@dataclass(frozen=True)
class Problem:
    """One thing wrong, at a line of a document."""

    doc: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Block:
    """A fenced code block: ``start`` and ``end`` are the indexes of its fence lines."""

    info: str
    indent: str
    start: int
    end: int
    body: tuple[str, ...]
    source: str | None
    """The marker's ``path#region`` when the line above the fence is a marker."""


def documents(root: Path, only: list[Path] | None = None) -> list[Path]:
    """README.md and every docs/*.md, in that order; only those in ``only`` if given."""
    readme = root / "README.md"
    found = [readme] if readme.exists() else []
    found += sorted((root / "docs").glob("*.md"))
    if only is None:
        return found
    chosen = {path.resolve() for path in only}
    return [doc for doc in found if doc.resolve() in chosen]


def parse_blocks(lines: list[str]) -> tuple[list[Block], list[int]]:
    """The fenced blocks of a document, and the indexes of fences left unclosed."""
    blocks: list[Block] = []
    unclosed: list[int] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            index += 1
            continue
        fence, indent = opening["fence"], opening["indent"]
        closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        end = next((n for n in range(index + 1, len(lines)) if closing.match(lines[n])), None)
        if end is None:
            unclosed.append(index)
            break
        marker = _MARKER.match(lines[index - 1]) if index > 0 else None
        words = opening["info"].split()
        blocks.append(
            Block(
                info=words[0].lower() if words else "",
                indent=indent,
                start=index,
                end=end,
                body=tuple(_unindent(line, indent) for line in lines[index + 1 : end]),
                source=marker["source"] if marker else None,
            )
        )
        index = end + 1
    return blocks, unclosed


def _unindent(line: str, indent: str) -> str:
    """A block line without the fence's indentation (as Markdown reads it)."""
    if line.startswith(indent):
        return line[len(indent) :]
    return line.lstrip()


class Sources:
    """Source files read once, and the regions cut out of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._texts: dict[Path, str] = {}

    def lines(self, reference: str) -> list[str] | str:
        """The lines ``path`` or ``path#region`` shows, or why they cannot be found."""
        parsed = _SOURCE.match(reference)
        if parsed is None:
            return f"malformed snippet source {reference!r}: use path or path#region"
        relative, region = parsed["path"], parsed["region"]
        path = (self.root / relative).resolve()
        if Path(relative).is_absolute() or not path.is_relative_to(self.root):
            return f"snippet source {relative!r} is outside the repository"
        if path not in self._texts:
            if not path.is_file():
                return f"snippet source {relative} does not exist"
            self._texts[path] = path.read_text(encoding="utf-8")
        lines = self._texts[path].splitlines()
        if region is None:
            return [line for line in lines if not _REGION_LINE.search(line)]
        return _region(lines, relative, region)


def _region(lines: list[str], relative: str, name: str) -> list[str] | str:
    opens = [n for n, line in enumerate(lines) if _marks(line, name, close=False)]
    closes = [n for n, line in enumerate(lines) if _marks(line, name, close=True)]
    if not opens:
        return f"{relative} has no region [docs:{name}]"
    if len(opens) > 1 or len(closes) > 1:
        return f"{relative} marks region [docs:{name}] more than once"
    if not closes or closes[0] < opens[0]:
        return f"{relative}: region [docs:{name}] has no [/docs:{name}] after it"
    kept = [line for line in lines[opens[0] + 1 : closes[0]] if not _REGION_LINE.search(line)]
    if not kept:
        return f"{relative}: region [docs:{name}] is empty"
    return textwrap.dedent("\n".join(kept) + "\n").splitlines()


def _marks(line: str, name: str, *, close: bool) -> bool:
    return any(
        match["name"] == name and bool(match["close"]) == close
        for match in _REGION_LINE.finditer(line)
    )


def check_document(
    doc: Path, root: Path, sources: Sources, *, write: bool = False
) -> tuple[list[Problem], list[Block]]:
    """The snippet problems of one document, and the stale blocks ``write`` rewrote.

    Only stale blocks are rewritten; unmarked blocks and missing sources stay
    problems, because only a person can say where their code should come from.
    """
    name = doc.relative_to(root).as_posix()
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks, unclosed = parse_blocks(lines)
    problems = [Problem(name, n + 1, "code fence is never closed") for n in unclosed]
    inside = {n for block in blocks for n in range(block.start, block.end + 1)}
    starts = {block.start for block in blocks}
    for n, line in enumerate(lines):
        if _MARKER.match(line) and n not in inside and n + 1 not in starts:
            problems.append(Problem(name, n + 1, "snippet marker is not right above a code fence"))
    rewrites: list[tuple[Block, list[str]]] = []
    for block in blocks:
        number = block.start + 1
        if block.source is None:
            if block.info in CHECKED:
                problems.append(
                    Problem(
                        name,
                        number,
                        f"{block.info} block has no <!-- snippet: path#region --> marker above it",
                    )
                )
            continue
        wanted = sources.lines(block.source)
        if isinstance(wanted, str):
            problems.append(Problem(name, number, wanted))
        elif list(block.body) != wanted:
            if write:
                rewrites.append((block, wanted))
            else:
                problems.append(Problem(name, number, _stale(block, wanted)))
    for block, wanted in sorted(rewrites, key=lambda item: item[0].start, reverse=True):
        lines[block.start + 1 : block.end] = [block.indent + w if w else w for w in wanted]
    if rewrites:
        doc.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return sorted(problems, key=lambda p: p.line), [block for block, _ in rewrites]


def _stale(block: Block, wanted: list[str]) -> str:
    for number, (shown, source) in enumerate(zip(block.body, wanted, strict=False), start=1):
        if shown != source:
            return (
                f"block differs from {block.source} at its line {number}: "
                f"shows {shown!r}, the source has {source!r}"
            )
    return (
        f"block differs from {block.source}: it has {len(block.body)} lines, "
        f"the source {len(wanted)}"
    )


def check_snippets(
    root: Path = ROOT, *, write: bool = False, only: list[Path] | None = None
) -> list[Problem]:
    """Every snippet problem in the docs (or in ``only``); with ``write``, stale blocks
    are fixed first and each rewrite is printed."""
    sources = Sources(root)
    problems: list[Problem] = []
    for doc in documents(root, only):
        found, rewritten = check_document(doc, root, sources, write=write)
        problems += found
        for block in rewritten:
            name = doc.relative_to(root).as_posix()
            print(f"{name}:{block.start + 1}: rewrote the block from {block.source}")
    return problems


def _prose(lines: list[str]) -> Iterator[tuple[int, str]]:
    """Each line outside code blocks (number from 1), its inline code blanked."""
    blocks, _ = parse_blocks(lines)
    inside = {n for block in blocks for n in range(block.start, block.end + 1)}
    for n, line in enumerate(lines):
        if n not in inside:
            yield n + 1, _INLINE_CODE.sub("code", line)


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings, as GitHub makes them, and HTML anchors."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: set[str] = set()
    seen: dict[str, int] = {}
    blocks, _ = parse_blocks(lines)
    inside = {n for block in blocks for n in range(block.start, block.end + 1)}
    for n, line in enumerate(lines):
        if n in inside:
            continue
        found.update(match["anchor"] for match in _HTML_ANCHOR.finditer(line))
        heading = _HEADING.match(line)
        if heading is None:
            continue
        text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading["text"])
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def check_links(root: Path = ROOT, only: list[Path] | None = None) -> list[Problem]:
    """Relative links in README.md and docs/*.md (or in ``only``) whose file or heading
    does not exist."""
    problems: list[Problem] = []
    for doc in documents(root, only):
        name = doc.relative_to(root).as_posix()
        for number, line in _prose(doc.read_text(encoding="utf-8").splitlines()):
            targets = [m["target"] for m in _LINK.finditer(line)]
            reference = _REFERENCE.match(line)
            if reference:
                targets.append(reference["target"])
            for target in targets:
                problem = _link_problem(doc, root, target)
                if problem:
                    problems.append(Problem(name, number, problem))
    return problems


def _link_problem(doc: Path, root: Path, target: str) -> str | None:
    if _SCHEME.match(target):
        return None
    relative, _, anchor = target.partition("#")
    path = (doc.parent / relative).resolve() if relative else doc
    if not path.is_relative_to(root):
        return f"link {target!r} leaves the repository"
    if not path.exists():
        return f"link {target!r}: {relative} does not exist"
    if anchor and path.suffix == ".md" and anchor not in anchors(path):
        return f"link {target!r}: {path.relative_to(root).as_posix()} has no heading #{anchor}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check that code blocks in README.md and docs/*.md equal their sources."
    )
    parser.add_argument(
        "--write", action="store_true", help="rewrite stale blocks from their sources first"
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument(
        "docs", nargs="*", type=Path, help="only these documents [default: all of them]"
    )
    options = parser.parse_args(argv)
    root = options.root.resolve()
    only = options.docs or None
    unknown = [
        doc for doc in options.docs if doc.resolve() not in map(Path.resolve, documents(root))
    ]
    if unknown:
        parser.error(f"not README.md or docs/*.md: {', '.join(map(str, unknown))}")
    problems = check_snippets(root, write=options.write, only=only) + check_links(root, only)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in the docs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
