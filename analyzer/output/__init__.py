"""Where results go: the timeline JSON of DESIGN.md (and its schema), the decrypted
capture, the extracted FLUTE files.
"""
