"""Housekeeping files at the repository root: LICENSE (MIT, as pyproject.toml says), CHANGELOG.md
(Keep a Changelog, the current version listed) and CITATION.cff (CFF 1.2.0 naming the papers of the
five methods). The CITATION test parses the file with pyyaml and skips when pyyaml is missing."""
import pathlib
import re

import pytest

from pyalgo.version import __version__

ROOT = pathlib.Path(__file__).resolve().parents[1]

# the paper of each method: (title, arXiv id, year, first author's family name)
PAPERS = {
    "discrete (ReinMax)": ("Bridging Discrete and Backpropagation: Straight-Through and Beyond", "2304.08612", 2023,
                           "Liu"),
    "wireless (algorithm distillation)": (
        "Distilling Knowledge from Resource Management Algorithms to Neural Networks: A Unified Training "
        "Assistance Approach", "2308.07511", 2023, "Ma"),
    "energy (min-min EBM)": ("Joint Learning of Energy-based Models and their Partition Function", "2501.18528", 2025,
                             "Sander"),
    "multitask (GO4Align)": ("GO4Align: Group Optimization for Multi-Task Alignment", "2404.06486", 2024, "Shen"),
    "edge (ADSAC)": ("Towards Multi-Task Generative-AI Edge Services with an Attention-based Diffusion DRL Approach",
                     "2405.08328", 2024, "Liu"),
}


def test_license_is_mit_with_the_copyright_line():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the pyalgo authors" in text
    assert "Permission is hereby granted, free of charge" in text and 'THE SOFTWARE IS PROVIDED "AS IS"' in text
    assert re.search(r'^license\s*=\s*\{\s*text\s*=\s*"MIT"\s*\}', (ROOT / "pyproject.toml").read_text(), re.M)


def test_changelog_has_unreleased_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "[Unreleased]"
    assert any(re.fullmatch(rf"\[{re.escape(__version__)}\] - \d{{4}}-\d\d-\d\d", h) for h in headings), headings
    assert "keepachangelog.com" in text
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        if section.startswith("[Unreleased]") and "Nothing yet" in section:
            continue
        assert re.search(r"^### (Added|Changed|Deprecated|Removed|Fixed|Security)$", section, re.M), section[:40]


@pytest.fixture(scope="module")
def cff():
    yaml = pytest.importorskip("yaml", reason="pyyaml is not installed (it is in the dev extra)")
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_has_the_required_cff_keys(cff):
    for key in ("cff-version", "message", "title", "authors"):
        assert cff.get(key), key
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software" and cff["license"] == "MIT"
    assert str(cff["version"]) == __version__
    assert isinstance(cff["authors"], list) and all(isinstance(a, dict) and a for a in cff["authors"])


@pytest.mark.parametrize("method", list(PAPERS))
def test_citation_names_each_paper(cff, method):
    title, arxiv, year, first = PAPERS[method]
    refs = [r for r in cff["references"] if r["title"] == title]
    assert len(refs) == 1, f"{method}: no reference titled {title!r}"
    ref = refs[0]
    assert ref["type"] in ("article", "conference-paper") and ref["year"] == year
    assert ref["authors"][0]["family-names"] == first
    assert all(a.get("family-names") for a in ref["authors"])
    assert {"type": "other", "value": f"arXiv:{arxiv}", "description": "arXiv identifier"} in ref["identifiers"]
    assert ref["url"] == f"https://arxiv.org/abs/{arxiv}"


def test_citation_lists_exactly_the_five_papers(cff):
    assert sorted(r["title"] for r in cff["references"]) == sorted(p[0] for p in PAPERS.values())
