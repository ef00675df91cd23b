"""MIKEY name spaces: every value table of RFC 3830 and its extensions.

Sources (see ``../shared/spec/mbms-security-digest.md`` §1-§2 and
``ts33246-fact-check.md`` §2.6 for the IANA additions):

* RFC 3830 §6 (Tables 6.1.a-6.15) - the base protocol;
* RFC 4563 §4-§5 - Key ID general extension (type 3) and the empty CS ID map;
* RFC 4650 (DHHMAC), RFC 4738 (RSA-R), RFC 6043 (MIKEY-TICKET),
  RFC 6267 (MIKEY-IBAKE), RFC 6509 (MIKEY-SAKKE) - further data and payload types;
* RFC 4771, RFC 5748, RFC 7714, RFC 8269 - further SRTP policy values.

Tables map a wire value to its display name. Lengths that are implied by an
algorithm identifier (MAC, hash, timestamp, DH group) are kept beside them.
"""

from __future__ import annotations

#: HDR data type (RFC 3830 Table 6.1.a; RFC 4650; RFC 4738; RFC 6043 Table 6.1;
#: RFC 6267; RFC 6509).
DATA_TYPES: dict[int, str] = {
    0: "Pre-shared",
    1: "PSK ver msg",
    2: "Public key",
    3: "PK ver msg",
    4: "D-H init",
    5: "D-H resp",
    6: "Error",
    7: "DHHMAC init",
    8: "DHHMAC resp",
    9: "RSA-R I_MSG",
    10: "RSA-R R_MSG",
    11: "REQUEST_INIT_PSK",
    12: "REQUEST_INIT_PK",
    13: "REQUEST_RESP",
    14: "TRANSFER_INIT",
    15: "TRANSFER_RESP",
    16: "RESOLVE_INIT_PSK",
    17: "RESOLVE_INIT_PK",
    18: "RESOLVE_RESP",
    19: "REQUEST_KEY_PSK",
    20: "REQUEST_KEY_PKE",
    21: "REQUEST_KEY_RESP",
    22: "I_MESSAGE_1",
    23: "R_MESSAGE_1",
    24: "I_MESSAGE_2",
    25: "R_MESSAGE_2",
    26: "SAKKE",
    27: "CS Id map Update",  # Wireshark's label; not an IANA value
}

#: Data types whose KEMAC carries an ID payload before the key data when the
#: encryption is NULL (public-key envelopes, RFC 3830 §3.2, RFC 4738).
PK_DATA_TYPES = frozenset({2, 9, 10})

#: Next payload / payload type (RFC 3830 Table 6.1.b; RFC 6043 Table 6.2;
#: RFC 6267; RFC 6509).
PAYLOAD_TYPES: dict[int, str] = {
    0: "Last payload",
    1: "KEMAC",
    2: "PKE",
    3: "DH",
    4: "SIGN",
    5: "T",
    6: "ID",
    7: "CERT",
    8: "CHASH",
    9: "V",
    10: "SP",
    11: "RAND",
    12: "ERR",
    13: "TR",
    14: "IDR",
    15: "RANDR",
    16: "TP",
    17: "TICKET",
    20: "Key data",
    21: "General Extension",
    22: "IBAKE",
    23: "ESK",
    24: "SK",
    25: "ECCPT",
    26: "SAKKE",
}

#: Long names as Wireshark prints them in its tree (packet-mikey.c).
PAYLOAD_TITLES: dict[int, str] = {
    -1: "Common Header (HDR)",
    0: "Last payload",
    1: "Key Data Transport (KEMAC)",
    2: "Envelope Data (PKE)",
    3: "DH Data (DH)",
    4: "Signature (SIGN)",
    5: "Timestamp (T)",
    6: "ID",
    7: "Certificate (CERT)",
    8: "CHASH",
    9: "Ver msg (V)",
    10: "Security Policy (SP)",
    11: "RAND",
    12: "Error (ERR)",
    13: "Timestamp with Role (TR)",
    14: "ID with Role (IDR)",
    15: "RAND with Role (RANDR)",
    16: "Ticket Policy (TP)",
    17: "Ticket (TICKET)",
    20: "Key data (KEY)",
    21: "General Extension (EXT)",
    26: "SAKKE Encapsulated Data (SAKKE)",
}

#: PRF func (RFC 3830 Table 6.1.c; RFC 6043 Table 6.3); 112-127 private use.
PRF_FUNCS: dict[int, str] = {0: "MIKEY-1", 1: "PRF-HMAC-SHA-256"}

#: CS ID map type (RFC 3830 Table 6.1.d; RFC 4563 §5; RFC 6043 Table 6.4).
CS_ID_MAP_TYPES: dict[int, str] = {0: "SRTP-ID", 1: "Empty map", 2: "GENERIC-ID"}

#: KEMAC encryption algorithm (RFC 3830 Table 6.2.a; RFC 6043).
ENCR_ALGS: dict[int, str] = {0: "NULL", 1: "AES-CM-128", 2: "AES-KW-128", 3: "AES-CM-256"}

#: KEMAC / V MAC algorithm (RFC 3830 Table 6.2.b; RFC 6043) and its MAC length.
MAC_ALGS: dict[int, str] = {0: "NULL", 1: "HMAC-SHA-1-160", 2: "HMAC-SHA-256-256"}
MAC_LENGTHS: dict[int, int] = {0: 0, 1: 20, 2: 32}

#: PKE cache indicator C (RFC 3830 Table 6.3).
PKE_CACHE: dict[int, str] = {0: "No cache", 1: "Cache", 2: "Cache for CSB"}

#: DH group (RFC 3830 Table 6.4) and the length in bytes of its DH value.
DH_GROUPS: dict[int, str] = {0: "OAKLEY 5", 1: "OAKLEY 1", 2: "OAKLEY 2"}
DH_LENGTHS: dict[int, int] = {0: 192, 1: 96, 2: 128}

#: SIGN S type (RFC 3830 Table 6.5; RFC 6509).
SIGN_TYPES: dict[int, str] = {0: "RSA/PKCS#1/1.5", 1: "RSA/PSS", 2: "ECCSI"}

#: TS type (RFC 3830 Table 6.6; RFC 6043) and the length of its value.
TS_TYPES: dict[int, str] = {0: "NTP-UTC", 1: "NTP", 2: "COUNTER", 3: "NTP-UTC-32"}
TS_LENGTHS: dict[int, int] = {0: 8, 1: 8, 2: 4, 3: 4}

#: TS role of the TR payload (RFC 6043 Table 6.5).
TS_ROLES: dict[int, str] = {
    1: "Time of issue (TRi)",
    2: "Start of validity period (TRs)",
    3: "End of validity period (TRe)",
    4: "Rekeying interval (TRr)",
}

#: ID type (RFC 3830 Table 6.7.a; RFC 6043 Table 6.10).
ID_TYPES: dict[int, str] = {0: "NAI", 1: "URI", 2: "Byte string"}

#: CERT type (RFC 3830 Table 6.7.b).
CERT_TYPES: dict[int, str] = {
    0: "X.509v3",
    1: "X.509v3 URL",
    2: "X.509v3 Sign",
    3: "X.509v3 Encr",
}

#: ID role of the IDR payload (RFC 6043 Table 6.11; RFC 6509).
ID_ROLES: dict[int, str] = {
    1: "Initiator (IDRi)",
    2: "Responder (IDRr)",
    3: "KMS (IDRkms)",
    4: "Pre-Shared Key (IDRpsk)",
    5: "Application (IDRapp)",
    6: "Initiator's KMS (IDRkmsi)",
    7: "Responder's KMS (IDRkmsr)",
}

#: CHASH hash function (RFC 3830 Table 6.8; RFC 6043 Table 6.12) and hash length.
HASH_FUNCS: dict[int, str] = {0: "SHA-1", 1: "MD5", 2: "SHA-256"}
HASH_LENGTHS: dict[int, int] = {0: 20, 1: 16, 2: 32}

#: SP protocol type (RFC 3830 Table 6.10.a; RFC 4442).
SP_PROT_TYPES: dict[int, str] = {0: "SRTP", 1: "TESLA"}

#: RAND role of the RANDR payload (RFC 6043 Table 6.13).
RAND_ROLES: dict[int, str] = {1: "Initiator (RANDRi)", 2: "Responder (RANDRr)", 3: "KMS (RANDRkms)"}

#: ERR error no (RFC 3830 Table 6.12; RFC 4738; RFC 6043 Table 6.14).
ERR_NOS: dict[int, str] = {
    0: "Authentication failure",
    1: "Invalid timestamp",
    2: "PRF function not supported",
    3: "MAC algorithm not supported",
    4: "Encryption algorithm not supported",
    5: "Hash function not supported",
    6: "DH group not supported",
    7: "ID not supported",
    8: "Certificate not supported",
    9: "SP type not supported",
    10: "SP parameters not supported",
    11: "Data type not supported",
    12: "Unspecified error",
    13: "Unsupported message type",
    14: "Invalid TICKET",
    15: "Invalid TPpar",
}

#: Key data sub-payload type (RFC 3830 Table 6.13.a; RFC 6043; RFC 6267).
KEY_DATA_TYPES: dict[int, str] = {
    0: "TGK",
    1: "TGK+SALT",
    2: "TEK",
    3: "TEK+SALT",
    4: "GTGK",
    5: "GTGK+SALT",
    6: "MPK",
    7: "K_PR",
}
#: Key data types that carry a salt (RFC 3830 §6.13: the types with a "+SALT").
SALTED_KEY_TYPES = frozenset({1, 3, 5})

#: Key validity type KV (RFC 3830 Table 6.13.b).
KV_TYPES: dict[int, str] = {0: "Null", 1: "SPI/MKI", 2: "Interval"}

#: General Extension type (RFC 3830 Table 6.15; IANA MIKEY registry; TS 33.180).
EXT_TYPES: dict[int, str] = {
    0: "Vendor-ID",
    1: "SDP-IDs",
    2: "TESLA I-Key",
    3: "Key ID",
    4: "CSB_ID",
    5: "OMA BCAST",
    7: "3GPP key parameters",
}

#: Key ID type of the Key ID general extension (RFC 4563 §4 Table 1; IANA names).
KEY_ID_TYPES: dict[int, str] = {
    0: "MBMS Key Domain ID",
    1: "MBMS Service Key ID",
    2: "MBMS Transport Key ID",
}

#: OMA BCAST extension subtypes (RFC 5410 §3, §6).
OMA_BCAST_SUBTYPES: dict[int, str] = {
    1: "LTKM",
    2: "STKM",
    3: "LTKM reporting",
    4: "Parental control",
}

#: SRTP policy parameter types (RFC 3830 Table 6.10.1.a; RFC 4771; RFC 7714):
#: type -> (display name, Wireshark field abbreviation or None).
SRTP_POLICY_PARAMS: dict[int, tuple[str, str | None]] = {
    0: ("Encryption algorithm", "mikey.sp.encr_alg"),
    1: ("Session Encr. key length", "mikey.sp.encr_len"),
    2: ("Authentication algorithm", "mikey.sp.auth_alg"),
    3: ("Session Auth. key length", "mikey.sp.auth_key_len"),
    4: ("Session Salt key length", "mikey.sp.salt_len"),
    5: ("SRTP Pseudo Random Function", "mikey.sp.prf"),
    6: ("Key derivation rate", "mikey.sp.kd_rate"),
    7: ("SRTP encryption", "mikey.sp.srtp_encr"),
    8: ("SRTCP encryption", "mikey.sp.srtcp_encr"),
    9: ("Sender's FEC order", "mikey.sp.fec"),
    10: ("SRTP authentication", "mikey.sp.srtp_auth"),
    11: ("Authentication tag length", "mikey.sp.auth_tag_len"),
    12: ("SRTP prefix length", "mikey.sp.srtp_prefix"),
    13: ("ROC transmission rate", None),
    14: ("SRTP Authentication algorithm", None),
    15: ("SRTCP Authentication algorithm", None),
    16: ("SRTP Session Auth. key length", None),
    17: ("SRTCP Session Auth. key length", None),
    18: ("SRTP Authentication tag length", None),
    19: ("SRTCP Authentication tag length", None),
    20: ("AEAD authentication tag length", None),
}

#: Value names of the enumerated SRTP policy parameters.
SP_ENCR_ALGS: dict[int, str] = {
    0: "NULL",
    1: "AES-CM",
    2: "AES-F8",
    3: "SEED-CTR",
    4: "SEED-CCM",
    5: "SEED-GCM",
    6: "AES-GCM",
    7: "ARIA-CTR",
    8: "ARIA-GCM",
}
SP_AUTH_ALGS: dict[int, str] = {0: "NULL", 1: "HMAC-SHA-1", 2: "RCCm1", 3: "RCCm2", 4: "RCCm3"}
SP_PRFS: dict[int, str] = {0: "AES-CM", 1: "SEED-CTR", 2: "ARIA-CTR"}
SP_FEC_ORDERS: dict[int, str] = {0: "FEC-SRTP"}
ON_OFF: dict[int, str] = {0: "Off", 1: "On"}

#: SRTP policy parameter type -> value table, for the enumerated ones.
SRTP_POLICY_VALUE_NAMES: dict[int, dict[int, str]] = {
    0: SP_ENCR_ALGS,
    2: SP_AUTH_ALGS,
    5: SP_PRFS,
    7: ON_OFF,
    8: ON_OFF,
    9: SP_FEC_ORDERS,
    10: ON_OFF,
    14: SP_AUTH_ALGS,
    15: SP_AUTH_ALGS,
}

#: SAKKE params and ID scheme (RFC 6509 §4.2, §4.3).
SAKKE_PARAMS: dict[int, str] = {1: "Parameter Set 1"}
SAKKE_ID_SCHEMES: dict[int, str] = {1: "tel URI with monthly keys"}


def name_of(table: dict[int, str], value: int | None) -> str:
    """Return the display name of *value* in *table*, or ``Unknown``."""
    if value is None:
        return "Unknown"
    return table.get(value, "Unknown")
