"""mbms-analyzer: everything above the wire (reading, analysis, crypto, CLI).

Dependency direction (DESIGN.md): ``dissectors <- analyzer core <- tui / cli``. The
core's layers, top to bottom (import-linter contracts in ``pyproject.toml``): output,
pipeline, flows, views, flute | keys, net, capture, crypto, vocab.
"""

__version__ = "0.1.0"


def version() -> str:
    """The version of this package (``mbms-analyzer --version``)."""
    return __version__
