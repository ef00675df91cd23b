"""Lab simulator: one BM-SC and its UEs producing every procedure of the seed (issue 5).

Traffic is built with the product's own layers and crypto (``analyzer.lab.mikey_build``,
``analyzer.crypto``), deterministically from a seed: same seed, same bytes.
"""
