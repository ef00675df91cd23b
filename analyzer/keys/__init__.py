"""Key material and what it opens: the key file (store), the MUK -> MSK -> MTK
hierarchy that checks and decrypts MIKEY (TS 33.246 §6.4-§6.5), which key opens
which SRTP stream with which ROC (RFC 3711, RFC 4771), and DCF opening.
"""
