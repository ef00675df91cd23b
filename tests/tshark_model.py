"""What tshark 4.0.17 shows of a MIKEY message, derived from our dissection.

The conformance test compares tshark's fields with ours. Where tshark is
right, its fields must equal ours exactly. Where tshark 4.0.17 is wrong or
silent, this model names the difference (a :class:`Deviation`) instead of
copying the bug into the product: each rule below maps our correct dissection
onto what that tshark version displays, and says whether tshark then stops
cleanly (``stop``: the rest must be absent) or goes on reading garbage
(``diverge``: only the fields before the deviation are compared).

The deviations, all seen on these machines and in ``packet-mikey.c``:
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dissectors.mikey import (
    MIKEY,
    MIKEY_CERT,
    MIKEY_CHASH,
    MIKEY_DH,
    MIKEY_ERR,
    MIKEY_EXT,
    MIKEY_ID,
    MIKEY_IDR,
    MIKEY_KEMAC,
    MIKEY_PKE,
    MIKEY_RAND,
    MIKEY_SAKKE,
    MIKEY_SIGN,
    MIKEY_SP,
    MIKEY_T,
    MIKEY_V,
    MIKEY_KeyData,
    iter_layers,
)
from dissectors.mikey.base import Field_

#: Named deviations of tshark 4.0.17 from RFC 3830/4563/6043/6509.
DEVIATIONS = {
    "generic_id_map": "CS ID map type 2 (GENERIC-ID, RFC 6043) entries are not consumed: "
                      "tshark reads the payload chain from inside the map",
    "ts_type_3": "TS type 3 (NTP-UTC-32, RFC 6043) unknown: tshark stops after the TS type",
    "mac_sha256": "MAC alg 2 (HMAC-SHA-256-256, RFC 6043) unknown: tshark stops after it",
    "dh_kv": "DH payload with KV != 0: tshark stops after the KV field",
    "rfc6043_payload": "TR, RANDR, TP and TICKET payloads (RFC 6043) unknown: tshark stops",
    "chash": "CHASH payload not dissected: tshark stops",
    "unknown_payload": "payload type unknown to tshark 4.0.17: it stops",
    "kemac_first_key_only": "NULL KEMAC: only the first Key data sub-payload is shown, "
                            "and only in data type 0",
    "gtgk_salt": "key data type 5 (GTGK+SALT, RFC 6043) salt not parsed: the first key's "
                 "KV data is misread",
    "pke_len_mask": "PKE data length masked with 0x3ff instead of 0x3fff: data of 1024 "
                    "bytes or more is cut and the chain misread",
    "cert_x509": "CERT length read from the type byte and the high length byte, and the "
                 "data handed to the X.509 dissector, which ends the dissection on data that "
                 "is no certificate",
    "sp_value_len": "SP parameter value of 0 or more than 4 bytes for an integer field is "
                    "malformed for tshark: it stops",
    "sp_param_13": "SP parameter type 13 has no named field in tshark (array bound)",
    "id_byte_string": "ID type 2 (byte string, RFC 6043) shown by tshark as text; we show hex",
    "silent_fields": "fields tshark does not decode at all (Key ID extension contents, "
                     "T counter, GENERIC-ID map, ...) are ours alone",
}

ANY = object()  # a value the comparison does not check (named by a deviation)


@dataclass
class View:
    """tshark's expected fields and the deviations that shaped them."""

    fields: list[tuple[str, object]] = field(default_factory=list)
    deviations: list[str] = field(default_factory=list)
    mode: str = "exact"  # exact | stop | diverge

    def add(self, f: Field_, value: object = None) -> None:
        self.fields.append((f.name, f.value if value is None else value))

    def end(self, deviation: str, mode: str) -> "View":
        self.deviations.append(deviation)
        self.mode = mode
        return self


def _f(layer, name: str) -> list[Field_]:
    return [f for f in layer.tree(0) if isinstance(f, Field_) and f.name == name]


def _one(layer, name: str) -> Field_:
    return _f(layer, name)[0]


def _emit(view: View, layer, names: tuple[str, ...], depth: int = 1) -> None:
    for item in layer.tree(0):
        if isinstance(item, Field_) and item.name in names and item.depth <= depth:
            view.add(item)


def tshark_view(msg: MIKEY) -> View:
    """Model of tshark 4.0.17's MIKEY fields for our dissection *msg*."""
    view = View()
    data_type = msg.data_type
    for layer in iter_layers(msg):
        if isinstance(layer, MIKEY):
            _emit(view, layer, ("mikey.version", "mikey.type", "mikey.next_payload",
                                "mikey.v.set", "mikey.prf_func", "mikey.csb_id",
                                "mikey.cs_count", "mikey.cs_id_map_type",
                                "mikey.srtp_id.policy_no", "mikey.srtp_id.ssrc",
                                "mikey.srtp_id.roc"), depth=2)
            if layer.cs_id_map_type == 2 and layer.cs_count:
                return view.end("generic_id_map", "diverge")
            continue
        np_field = _f(layer, "mikey.next_payload")
        if isinstance(layer, MIKEY_T):
            view.add(np_field[0])
            view.add(_one(layer, "mikey.t.ts_type"))
            if layer.ts_type >= 3:
                return view.end("ts_type_3", "stop")
            _emit(view, layer, ("mikey.t.ntp",))
        elif isinstance(layer, MIKEY_KEMAC):
            _emit(view, layer, ("mikey.next_payload", "mikey.kemac.encr_alg",
                                "mikey.kemac.key_data_len"))
            if layer.encr_alg == 0 and data_type == 0 and layer.encr_data_len:
                keys = [k for k in layer.key_data or [] if isinstance(k, MIKEY_KeyData)]
                if len(keys) > 1:
                    view.deviations.append("kemac_first_key_only")
                if keys:
                    before = len(view.fields)
                    if keys[0].key_type == 5:
                        _emit(view, keys[0], ("mikey.key.type", "mikey.key.kv",
                                              "mikey.key.data.len", "mikey.key.data"), depth=2)
                        return view.end("gtgk_salt", "diverge")
                    _emit(view, keys[0], ("mikey.key.type", "mikey.key.kv",
                                          "mikey.key.data.len", "mikey.key.data",
                                          "mikey.key.salt.len", "mikey.key.salt",
                                          "mikey.key.kv.spi.len", "mikey.key.kv.spi",
                                          "mikey.key.kv.from.len", "mikey.key.kv.from",
                                          "mikey.key.kv.to.len", "mikey.key.kv.to"),
                          depth=2)
                    view.fields[before:] = _drop_empty_key_fields(view.fields[before:])
            else:
                if layer.encr_alg == 0:
                    view.deviations.append("kemac_first_key_only")
                view.add(_one(layer, "mikey.kemac.key_data"))
            view.add(_one(layer, "mikey.kemac.mac_alg"))
            if layer.mac_alg not in (0, 1):
                return view.end("mac_sha256", "stop")
            view.add(_one(layer, "mikey.kemac.mac"))
        elif isinstance(layer, MIKEY_V):
            _emit(view, layer, ("mikey.next_payload", "mikey.v.auth_alg"))
            if layer.auth_alg not in (0, 1):
                return view.end("mac_sha256", "stop")
            _emit(view, layer, ("mikey.v.ver_data",))
        elif isinstance(layer, MIKEY_PKE):
            _emit(view, layer, ("mikey.next_payload", "mikey.pke.c", "mikey.pke.len"))
            if layer.data_len >= 1024:
                view.fields.append(("mikey.pke.data", layer.data[:layer.data_len & 0x3FF].hex()))
                return view.end("pke_len_mask", "diverge")
            _emit(view, layer, ("mikey.pke.data",))
        elif isinstance(layer, MIKEY_DH):
            _emit(view, layer, ("mikey.next_payload", "mikey.dh.group", "mikey.dh.value",
                                "mikey.dh.reserv", "mikey.dh.kv"))
            if layer.kv:
                return view.end("dh_kv", "stop")
        elif isinstance(layer, MIKEY_SIGN):
            _emit(view, layer, ("mikey.sign.type", "mikey.sign.len", "mikey.sign.data"))
        elif isinstance(layer, (MIKEY_ID, MIKEY_IDR)):
            for item in layer.tree(0):
                if isinstance(item, Field_) and item.name.startswith(("mikey.next_payload",
                                                                      "mikey.id.")):
                    if item.name == "mikey.id.data" and layer.id_type not in (0, 1):
                        view.fields.append((item.name, ANY))
                        view.deviations.append("id_byte_string")
                    else:
                        view.add(item)
        elif isinstance(layer, MIKEY_CERT):
            view.add(np_field[0])
            view.add(_one(layer, "mikey.cert.type"))
            view.fields.append(("mikey.cert.len", (layer.cert_type << 8) | (layer.cert_len >> 8)))
            return view.end("cert_x509", "diverge")
        elif isinstance(layer, MIKEY_CHASH):
            view.add(np_field[0])
            return view.end("chash", "stop")
        elif isinstance(layer, MIKEY_SP):
            _emit(view, layer, ("mikey.next_payload", "mikey.sp.no", "mikey.sp.proto_type",
                                "mikey.sp.param_len"))
            for param in layer.params or []:
                value = param.value or b""
                if layer.prot_type == 0 and param.type < 13:
                    if len(value) == 0 or len(value) > 4:
                        return view.end("sp_value_len", "stop")
                    view.fields.append((next(iter(_f(param, "mikey.sp.param.type"))).name
                                        and _param_name(param), int.from_bytes(value, "big")))
                elif layer.prot_type == 0 and param.type == 13:
                    view.deviations.append("sp_param_13")
                else:
                    view.fields.append(("mikey.sp.param", value.hex()))
                view.fields.append(("mikey.sp.param.type", param.type))
                view.fields.append(("mikey.sp.param.len", param.length))
                view.fields.append(("mikey.sp.patam.value", value.hex()))
        elif isinstance(layer, MIKEY_RAND):
            _emit(view, layer, ("mikey.next_payload", "mikey.rand.len", "mikey.rand.data"))
        elif isinstance(layer, MIKEY_EXT):
            _emit(view, layer, ("mikey.next_payload", "mikey.ext.type", "mikey.ext.len",
                                "mikey.ext.data", "mikey.ext.value"))
        elif isinstance(layer, MIKEY_SAKKE):
            _emit(view, layer, ("mikey.next_payload", "mikey.sakke.params",
                                "mikey.sakke.idscheme", "mikey.sakke.len", "mikey.sakke.data"))
        elif isinstance(layer, MIKEY_ERR):
            _emit(view, layer, ("mikey.next_payload", "mikey.err.no", "mikey.err.reserved"))
        elif layer.payload_type in (13, 15, 16, 17):
            view.add(np_field[0])
            return view.end("rfc6043_payload", "stop")
        else:
            if np_field:
                view.add(np_field[0])
            return view.end("unknown_payload", "stop")
    return view


def _drop_empty_key_fields(fields: list[tuple[str, object]]) -> list[tuple[str, object]]:
    """tshark omits the salt (length and value) and SPI/interval values of length 0."""
    out = []
    for name, value in fields:
        if name == "mikey.key.salt.len" and value == 0:
            continue
        if name in ("mikey.key.salt", "mikey.key.kv.spi", "mikey.key.kv.from",
                    "mikey.key.kv.to") and value == "":
            continue
        out.append((name, value))
    return out


def _param_name(param) -> str:
    for item in param.tree(0):
        return item.name
    raise AssertionError("a policy parameter always has fields")
