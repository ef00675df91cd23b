"""Cryptography of MBMS key management: MIKEY key transport, GBA, SRTP/SRTCP.

Every primitive comes from the ``cryptography`` package (AES, HMAC through
``hmac``/``hashlib``); only the RFC constructions on top are written here.
"""
