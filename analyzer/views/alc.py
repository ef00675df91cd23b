"""ALC/FLUTE packets in ``dissect``, and the protected files they deliver.

An ALC packet becomes a :class:`~analyzer.views.result.Dissected` with protocol
``alc`` (Wireshark's ``alc``/``rmt-lct``/``rmt-fec`` field names). The packet
that completes an FDT Instance also shows the FDT (``flute.fdt.*``,
``flute.file.*``); the one that completes a file shows the object
(``flute.object.*``), its DCF headers (``oma_dcf.*``) and, with keys, the
decryption (:func:`open_object`): the MTK named by the DCF's ``obki`` KeyID
(TS 33.246 §6.6.3.2), from the key file or learned from MIKEY, turned into the
DCF keys as :attr:`Profile.dcf_key_derivation` says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzer.capture.profile import DEFAULT_PROFILE, Profile
from analyzer.crypto.dcf import candidate_keys, decrypt, signature_ok
from analyzer.flute.receiver import DeliveredObject, Note
from analyzer.keys.store import KeyStore
from analyzer.views.mikey import mikey_view
from analyzer.views.result import Dissected
from dissectors.dcf import ENCRYPTION_METHODS, Dcf, looks_like_dcf, parse_dcf
from dissectors.flute.fdt import FdtInstance
from dissectors.flute.lct import AlcPacket
from dissectors.issues import Issue
from dissectors.mikey.base import Field_, Node


@dataclass(frozen=True)
class AlcInfo:
    """What the finder learned of an ALC packet: the packet, and the FDT
    Instances and objects it completed."""

    packet: AlcPacket | None
    fdts: tuple[FdtInstance, ...] = ()
    objects: tuple[DeliveredObject, ...] = ()
    notes: tuple[Note, ...] = ()


@dataclass
class OpenedObject:
    """A delivered object after the DCF step.

    Attributes:
        obj: the reassembled object.
        dcf: its DCF headers, None when it is not a DCF (sent in the clear).
        mtk: (Key Domain ID, MSK ID, MTK ID) named by the DCF.
        result: ``clear`` (not protected), ``ok`` (decrypted), ``no_key`` (MTK not
            known), ``bad_key`` (no candidate key opens it), ``unchecked`` (CTR
            decrypted with the spec's key, nothing to confirm it), ``incomplete``,
            ``malformed`` (a DCF that does not parse), ``mikey`` (a MIKEY MTK message
            delivered as a file of the session, TS 33.246 §6.3.3.2.1: its key learned).
        plain: the decrypted content (or the object itself when ``clear``).
        key_how: ``rfc3830`` or ``direct`` - which key opened it.
        signature: ``ok``/``bad`` for the odfs HMAC-SHA1, None without one.
    """

    obj: DeliveredObject
    dcf: Dcf | None = None
    mtk: tuple[str, str, str] | None = None
    result: str = "incomplete"
    plain: bytes | None = None
    key_how: str | None = None
    signature: str | None = None
    #: the DCF named no MTK: this one was found by trial (``Profile.dcf_key_trial``)
    by_trial: bool = False


def open_object(obj: DeliveredObject, store: KeyStore | None,
                profile: Profile = DEFAULT_PROFILE) -> OpenedObject:
    """Recognise the DCF of a delivered object and decrypt it with its MTK."""
    if not obj.complete or obj.data is None:
        out = OpenedObject(obj, result="incomplete")
        if looks_like_dcf(obj.head):  # its headers arrived: they name the MTK
            out.dcf = parse_dcf(obj.head)
            if out.dcf.containers:
                out.mtk = out.dcf.containers[0].mtk
        return out
    return _open_bytes(obj, obj.data, store, profile)


def open_fdt_dcf(data: bytes, store: KeyStore | None, profile: Profile = DEFAULT_PROFILE
                 ) -> tuple[bytes | None, str, str | None] | None:
    """An FDT Instance wrapped in a DCF (TS 33.246 §6.6.3): (the FDT, or None when it
    cannot be opened; the DCF result; its signature check), or None for no DCF. A NULL
    encrypted one is read at once; its signature is checked once its MTK is known."""
    if not looks_like_dcf(data):
        return None
    out = _open_bytes(None, data, store, profile)
    if out.result == "clear" and out.dcf is not None and store is not None and out.mtk:
        kd, msk, mtk_id = (bytes.fromhex(x) for x in out.mtk)
        key = store.mtks.get((kd, msk, mtk_id))
        c = out.dcf.containers[0]
        if key is not None and key.value is not None and c.signature_method == 1:
            keys = _dcf_keys(store, key, profile)
            if keys:
                out.signature = "ok" if any(signature_ok(k.auth_key, data[:out.dcf.mdri_offset],
                                                         c.signature) for k in keys) else "bad"
    plain = out.plain if out.result in ("clear", "ok", "unchecked") else None
    return plain, out.result, out.signature


def _open_bytes(obj: Any, data: bytes, store: KeyStore | None,
                profile: Profile) -> OpenedObject:
    if not looks_like_dcf(data):
        return OpenedObject(obj, result="clear", plain=data)
    dcf = parse_dcf(data)
    if not dcf.containers or dcf.containers[0].data_length == 0:
        return OpenedObject(obj, dcf, result="malformed")
    c = dcf.containers[0]
    out = OpenedObject(obj, dcf, c.mtk, result="no_key")
    if c.encryption_method == 0:
        out.result, out.plain = "clear", data[c.data_offset:c.data_offset + c.data_length]
        return out
    if store is None:
        return out
    body = data[c.data_offset:c.data_offset + c.data_length]
    signed = data[:dcf.mdri_offset]  # every byte before the mdri box (None: the whole file)
    if c.mtk is None:
        return _trial(out, body, signed, c, store, profile)
    kd, msk, mtk_id = (bytes.fromhex(x) for x in c.mtk)
    key = store.mtks.get((kd, msk, mtk_id))
    if key is None or key.value is None:
        return out
    return _open_with(out, body, signed, c, store, key, profile)


#: Most known MTKs tried on a DCF that names none.
MAX_TRIAL = 64


def _trial(out: OpenedObject, body: bytes, signed: bytes, c: Any, store: KeyStore,
           profile: Profile) -> OpenedObject:
    """No KeyID: the known MTKs, newest first; only a confirmed key is taken."""
    if not profile.dcf_key_trial:
        return out
    for ids, key in list(store.mtks.items())[::-1][:MAX_TRIAL]:
        if key.value is None:
            continue
        got = _open_with(OpenedObject(out.obj, out.dcf), body, signed, c, store, key, profile)
        if got.result == "ok":
            got.mtk = tuple(x.hex() for x in ids)
            got.by_trial = True
            return got
    return out


def _dcf_keys(store: KeyStore, key: Any, profile: Profile) -> list:
    """The DCF key candidates of MTK *key* (TS 33.246 §6.5.4: RFC 3830 §4.1.3 from the MTK
    with its message's CSB ID and the MSK's RAND; :attr:`Profile.dcf_key_derivation`)."""
    ids = key.ident
    kd, msk = bytes.fromhex(ids["key_domain"]), bytes.fromhex(ids["msk_id"])
    rand = key.extra.get("rand")
    if rand is None:
        msk_key = store.msks.get((kd, msk))
        rand = msk_key.extra.get("rand") if msk_key is not None else None
    return list(candidate_keys(key.value, key.extra.get("csb_id"), rand,
                               profile.dcf_key_derivation))


def _open_with(out: OpenedObject, body: bytes, signed: bytes, c: Any, store: KeyStore,
               key: Any, profile: Profile) -> OpenedObject:
    """Decrypt container *c* (its odda data *body*; *signed*, what its signature
    covers) with MTK *key* (its RAND and CSB ID for the derivation)."""
    out.result = "bad_key"
    for keys in _dcf_keys(store, key, profile):
        sig = None
        if c.signature_method == 1 and c.signature:
            sig = "ok" if signature_ok(keys.auth_key, signed, c.signature) else "bad"
        plain, checked = decrypt(c.encryption_method, keys.encr_key, body, c.plaintext_length,
                                 c.padding_scheme)
        if plain is None or sig == "bad":
            continue
        if checked or sig == "ok" or keys.how == "rfc3830" or profile.dcf_key_derivation \
                == "direct":
            out.result = "ok" if (checked or sig == "ok") else "unchecked"
            out.plain, out.key_how, out.signature = plain, keys.how, sig
            return out
    if c.signature_method == 1 and c.signature:
        out.signature = "bad"
    return out


#: FDT media types of a MIKEY message delivered as a file (TS 33.246 §6.3.3.2.1: "the
#: IANA MIKEY type"; RFC 3830 §10 registers application/mikey)
MIKEY_MEDIA_TYPES = frozenset({"application/mikey"})


def is_mikey_object(obj: DeliveredObject) -> bool:
    """A complete object that the FDT says is a MIKEY message."""
    ctype = (obj.fdt.content_type or "").split(";")[0].strip().lower() if obj.fdt else ""
    return obj.complete and obj.data is not None and ctype in MIKEY_MEDIA_TYPES


def build_alc_packet(cand: Any, store: KeyStore | None = None,
                     profile: Profile = DEFAULT_PROFILE, hierarchy: Any = None) -> Dissected:
    """The dissected form of an ALC candidate (with its finished objects opened). A MIKEY
    message delivered as a file (TS 33.246 §6.3.3.2.1) is dissected, and with a key
    *hierarchy* checked and learned from, before the objects after it are opened."""
    info: AlcInfo = cand.alc
    pkt = info.packet
    if pkt is not None:
        items = list(pkt.items)
        errors: list[Issue] = list(pkt.issues)
        if pkt.is_fdt:
            summary = f"ALC TSI {pkt.tsi} FDT instance {pkt.fdt_instance_id}"
        else:
            summary = f"ALC TSI {pkt.tsi} TOI {pkt.toi}"
        if pkt.sbn is not None:
            summary += f" SBN {pkt.sbn} ESI {pkt.esi}"
        items.append(Field_("alc.payload", len(pkt.payload), "Encoding symbol(s) (bytes)",
                            depth=0))
    else:  # the capture ended: an object never completed, shown at its last packet
        items, errors = [Node("FLUTE object at the end of the capture", -1)], []
        summary = "FLUTE end of capture"
    errors.extend(Issue(n.code, n.message, n.severity) for n in info.notes)
    for fdt in info.fdts:
        items.extend(fdt.tree(depth=1))
        summary += f", FDT: {len(fdt.files)} files"
    opened = []
    facts: list = []
    for obj in info.objects:
        if is_mikey_object(obj):
            o = OpenedObject(obj, result="mikey", plain=obj.data)
            opened.append(o)
            items.extend(object_tree(o))
            summary += f", {obj.name}: " + _mikey_object(obj.data or b"", cand, items, errors,
                                                         facts, hierarchy)
            continue
        o = open_object(obj, store, profile)
        opened.append(o)
        items.extend(object_tree(o))
        summary += f", {obj.name} {'complete' if obj.complete else 'INCOMPLETE'}"
        if o.dcf is not None:
            summary += f" (DCF, {o.result})"
    pkt_out = Dissected(cand.capture, cand.frame, cand.time, cand.src, cand.dst, "alc", summary,
                        items, errors, mikey=facts)
    pkt_out.downloads = opened
    return pkt_out


def _mikey_object(data: bytes, cand: Any, items: list, errors: list, facts: list,
                  hierarchy: Any) -> str:
    """Dissect a MIKEY message carried as a FLUTE file; learn its key; its summary."""
    view = mikey_view(data, "Multimedia Internet KEYing (in FLUTE)", cand, hierarchy,
                      carrier="flute")
    items.extend(view.items)
    errors.extend(view.errors)
    if view.fact is not None:
        facts.append(view.fact)
    return view.summary + view.mac


def object_tree(o: OpenedObject) -> list:
    """Items for a finished object and its DCF."""
    obj = o.obj
    items: list = [Node(f"Reassembled object TOI {obj.toi}: {obj.name}", 0)]
    add = items.append
    add(Field_("flute.object.toi", obj.toi, "TOI", depth=1))
    add(Field_("flute.object.name", obj.name, "Name", depth=1))
    if obj.transfer_length is not None:
        add(Field_("flute.object.transfer_length", obj.transfer_length, "Transfer length",
                   depth=1))
    add(Field_("flute.object.received", obj.received, "Bytes received", depth=1))
    add(Field_("flute.object.packets", obj.packets, "Packets", depth=1))
    add(Field_("flute.object.complete", int(obj.complete), "Complete", depth=1))
    if obj.missing:
        add(Field_("flute.object.missing", ", ".join(f"{s}-{e}" for s, e in obj.missing[:8]),
                   "Missing byte ranges", depth=1))
    if obj.md5 is not None:
        add(Field_("flute.object.md5", obj.md5, "Content-MD5 check", depth=1))
    if o.dcf is not None:
        items.extend((type(i)(*i[:-1], i[-1] + 1) if isinstance(i, Field_) else
                      Node(i.title, i.depth + 1)) for i in o.dcf.items)
        add(Field_("oma_dcf.decryption", o.result, "Decryption", depth=1))
        if o.key_how:
            add(Field_("oma_dcf.key_derivation", o.key_how, "Key", depth=1))
        if o.by_trial:
            add(Field_("oma_dcf.key_by_trial", "/".join(o.mtk or ()),
                       "MTK found by trial (the DCF names none)", depth=1))
        if o.signature:
            add(Field_("oma_dcf.signature_status", o.signature, "Signature", depth=1))
        if o.dcf.containers:
            m = o.dcf.containers[0].encryption_method
            add(Field_("oma_dcf.method_name", ENCRYPTION_METHODS.get(m, str(m)),
                       "Encryption", depth=1))
    return items
