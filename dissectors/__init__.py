"""Wire-format layers of mbms-analyzer: MIKEY and its carriers.

Pure wire format: nothing here imports :mod:`analyzer`, and nothing here
raises on wire bytes (malformed data becomes a raw field plus an
:class:`~dissectors.issues.Issue`).
"""
