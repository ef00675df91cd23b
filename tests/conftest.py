"""Shared fixtures: the corpus, its pcap, paths, and the tshark gate."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_CAPTURES = ROOT.parent / "shared" / "captures"
CAPTURES = ROOT / "captures"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.corpus import build_corpus, write_pcap  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Tests marked ``tshark`` skip without tshark, except under CI=true (then they fail)."""
    if shutil.which("tshark") or os.environ.get("CI") == "true":
        return
    skip = pytest.mark.skip(reason="tshark not installed (apt-get install tshark)")
    for item in items:
        if "tshark" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def corpus() -> list[bytes]:
    return build_corpus()


@pytest.fixture(scope="session")
def corpus_pcap(tmp_path_factory, corpus) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "mikey-corpus.pcap"
    write_pcap(path, corpus)
    return path
