"""mbms-analyzer: everything above the wire (reading, analysis, crypto, CLI).

Dependency direction (DESIGN.md): ``dissectors <- analyzer core <- tui / cli``.
"""

__version__ = "0.1.0"
