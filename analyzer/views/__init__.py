"""A packet as ``dissect`` shows it and as the flows read it: the display tree
(output only) and the typed facts (:mod:`analyzer.views.facts`) for MIKEY, BM-SC
HTTP, SRTP and ALC packets.
"""
