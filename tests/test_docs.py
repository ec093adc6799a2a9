"""The documentation's links: every relative link in the README and docs/ names a file that exists and, where
it names a heading (`file.md#heading`), a heading that file has.

Why: the README sends readers to docs/ for every figure's run and reasoning (docs/real-world-noise.md, the
stop-by-stop sections of docs/model-design.md), and those headings get renamed; a link that lands nowhere
looks like a claim without its evidence. Anchors are made as GitHub makes them (lower case, punctuation
dropped, spaces to hyphens, "-1", "-2"... for repeated headings)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"#{1,6} (.*)")


def github_anchor(heading: str) -> str:
    """GitHub's id for a heading: lower case, every character but letters, digits, `_`, `-` and spaces
    dropped (backticks, `=`, `.`, `,`, `:`...), spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    """The ids of a Markdown file's headings, fenced code left out (a `# comment` there is no heading)."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in document.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            anchor = github_anchor(match.group(1))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def broken_links(document: Path) -> list[str]:
    """The relative links of `document` that name a missing file or a heading its target lacks."""
    broken = []
    for target in LINK.findall(document.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, fragment = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(f"{target} (no such file)")
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    return broken


def test_github_anchor_drops_punctuation_as_github_does():
    assert github_anchor("`model=auto`: the model for the upload") == "modelauto-the-model-for-the-upload"
    assert github_anchor("Grey photos in lossy WebP files keep `blind-unet` (stop 43)") == (
        "grey-photos-in-lossy-webp-files-keep-blind-unet-stop-43")


def test_a_broken_link_and_a_missing_heading_are_found(tmp_path):
    (tmp_path / "other.md").write_text("# Present heading\n\n```\n# not a heading\n```\n")
    page = tmp_path / "page.md"
    page.write_text("[a](other.md#present-heading) [b](other.md#not-a-heading) [c](gone.md) "
                    "[d](https://example.org/x#y) [e](#here)\n\n## Here\n")
    assert broken_links(page) == ["other.md#not-a-heading (no such heading)", "gone.md (no such file)"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document):
    assert broken_links(document) == []
