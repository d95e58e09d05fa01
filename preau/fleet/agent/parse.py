"""FusionInventory (OCS-style XML) and GLPI Agent (JSON) documents -> one `Message` carrying an `Inventory`.

FusionInventory Agent 2.x talks the OCS protocol: it POSTs
`<REQUEST><DEVICEID>…</DEVICEID><QUERY>PROLOG</QUERY><TOKEN>…</TOKEN></REQUEST>`, expects
`<REPLY><PROLOG_FREQ>24</PROLOG_FREQ><RESPONSE>SEND</RESPONSE></REPLY>`, then POSTs
`<REQUEST><CONTENT>…</CONTENT><DEVICEID>…</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>` where
CONTENT holds HARDWARE, BIOS, OPERATINGSYSTEM (one each), CPUS, MEMORIES, NETWORKS, STORAGES
(one element per item) and ACCOUNTINFO (KEYNAME=TAG, KEYVALUE=the --tag option).

GLPI Agent's native protocol is JSON: `{"action": "contact", "deviceid": …, "tag": …}` and
`{"action": "inventory", "deviceid": …, "itemtype": "Computer", "tag": …, "content": {"hardware": {…},
"bios": {…}, "cpus": […], "memories": […], "networks": […], "operatingsystem": {…}, "storages": […]}}`
(the same sections, lower-case keys; networks carry `mac` instead of `macaddr`).

Both become the same sections (lower-case keys, values as sent), read once by `_inventory`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET
from django.utils.translation import gettext as _

from .identity import IgnoredInterface, Interface, classify, usable_serial, usable_uuid
from .payload import PayloadError

MAX_INTERFACES = 32
MAX_IGNORED = 64
FUSION_XML = "fusion_xml"
GLPI_JSON = "glpi_json"

# Characters XML 1.0 forbids, which old agents sometimes leave in software names: removed before parsing.
_XML_FORBIDDEN = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PLACEHOLDERS = re.compile(
    r"^(to be filled by o\.?e\.?m\.?|system manufacturer|system product name|default string|oem|o\.e\.m\.|"
    r"not specified|not applicable|none|null|n/a|unknown|undefined|type1productconfigid|x\.x|-+|\.+|0+)$",
    re.IGNORECASE,
)
_ARCH_64 = re.compile(r"(x86_64|amd64|x64|aarch64|arm64|ppc64|s390x|riscv64|64[- ]?bits?)", re.IGNORECASE)
# Processor families that are all 64-bit capable, and some that are all 32-bit only (Intel, AMD).
# Names look like "Intel(R) Pentium(R) CPU G3220 @ 3.00GHz": trademarks and "CPU" are dropped first.
_CPU_NOISE = re.compile(r"\((r|tm|c)\)|\bcpu\b|\bprocessor\b|\bintel\b|\bamd\b", re.IGNORECASE)
_CPU_64 = re.compile(
    r"\b(core 2|core i\d|core ultra|ryzen|epyc|threadripper|xeon|opteron|phenom|athlon (64|ii|x2|silver|gold)|"
    r"turion|sempron \d{3}|pentium (dual|g\d|silver|gold|n\d|j\d|\d{4})|celeron (g\d|n\d|j\d|\d{4})|"
    r"atom (x\d|z3|c\d|e3|d\d)|apple m\d|a\d{1,2}-\d{4}|fx-\d|e\d-\d{4}|cortex-a(5[3-9]|7\d))",
    re.IGNORECASE,
)
_CPU_32 = re.compile(
    r"\b(pentium (ii|iii|m|pro)\b|core (duo|solo)\b|athlon xp|atom (n2[78]\d|z5\d\d)|celeron m\b|via c[37]\b)",
    re.IGNORECASE,
)
_NOT_FIXED_DISK = re.compile(r"(cd|dvd|rom|removable|external|floppy|tape|usb|memory card|sd card)", re.IGNORECASE)
_PSEUDO_DISK_NAME = re.compile(r"^(loop\d*|ram\d*|zram\d*|sr\d+|fd\d+|md\d+|dm-\d+|nbd\d+|rbd\d+)$", re.IGNORECASE)
_LAPTOP = re.compile(r"(laptop|notebook|portable|hand ?held|convertible|detachable|sub ?notebook)", re.IGNORECASE)
_TABLET = re.compile(r"tablet", re.IGNORECASE)


_XML_DEVICEID = re.compile(rb"<DEVICEID>\s*([^<\s]{1,120})\s*</DEVICEID>")
_JSON_DEVICEID = re.compile(rb'"deviceid"\s*:\s*"([^"\\]{1,120})"', re.IGNORECASE)


def _salvage(pattern: re.Pattern, document: bytes) -> str:
    """The deviceid of a document that does not parse (to record the refusal against the right agent)."""
    match = pattern.search(document)
    return match.group(1).decode("utf-8", "replace").strip() if match else ""


class ParseError(PayloadError):
    """A document that is not a readable agent message (HTTP 400); may carry the deviceid when it was read."""

    def __init__(self, message: str, deviceid: str = "", fmt: str = "", status: int = 400):
        super().__init__(message, status)
        self.deviceid = deviceid
        self.format = fmt


@dataclass
class Inventory:
    """What one agent says about one machine, normalized. Empty string / None = not reported."""

    format: str
    deviceid: str
    tag: str = ""
    hostname: str = ""
    serial: str = ""            # as reported (may be a placeholder: see usable_serial)
    system_uuid: str = ""       # as reported
    maker: str = ""
    model: str = ""
    chassis: str = ""
    virtual_machine: str = ""   # "KVM", "VMware", "Docker"… ("" on a physical machine)
    cpu: str = ""
    cpu_64bit: bool | None = None
    ram_mb: int | None = None
    disk_gb: int | None = None
    os_name: str = ""
    os_version: str = ""
    os_arch: str = ""
    interfaces: list[Interface] = field(default_factory=list)
    ignored: list[IgnoredInterface] = field(default_factory=list)
    networks_reported: bool = False  # False when the agent sent no network section (partial inventory)
    agent: str = ""
    itemtype: str = "Computer"

    @property
    def usable_serial(self) -> str:
        return usable_serial(self.serial)

    @property
    def usable_uuid(self) -> str:
        return usable_uuid(self.system_uuid)

    @property
    def os(self) -> str:
        name, version = self.os_name.strip(), self.os_version.strip()
        text = name if not version or version in name else f"{name} {version}".strip()
        return text[:120]

    @property
    def category(self) -> str:
        """The fleet category the chassis suggests: laptop, tablet, else desktop."""
        if _TABLET.search(self.chassis):
            return "tablet"
        if _LAPTOP.search(self.chassis):
            return "laptop"
        return "desktop"

    def summary(self) -> dict:
        """The JSON kept on the AgentSubmission (what the queue page shows and placement uses)."""
        data = asdict(self)
        data["interfaces"] = [[i.name, i.mac, i.local] for i in self.interfaces]
        data["ignored"] = [[i.name, i.mac, i.reason] for i in self.ignored]
        data["usable_serial"], data["usable_uuid"], data["os"] = self.usable_serial, self.usable_uuid, self.os
        data["category"] = self.category
        return data

    @classmethod
    def from_summary(cls, data: dict) -> Inventory:
        """Back from summary() (tolerates the short hand-written form: manufacturer, uuid, macs)."""
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        fields.setdefault("format", "")
        fields.setdefault("deviceid", "")
        fields.setdefault("maker", _text(data.get("manufacturer")))
        fields.setdefault("system_uuid", _text(data.get("uuid")))
        interfaces = [Interface(n, m, bool(loc)) for n, m, loc in data.get("interfaces", [])]
        for mac in data.get("macs", []):
            result = classify("", mac, False)
            if isinstance(result, Interface):
                interfaces.append(result)
        fields["interfaces"] = interfaces
        fields["ignored"] = [IgnoredInterface(n, m, r) for n, m, r in data.get("ignored", [])]
        fields["networks_reported"] = bool(data.get("networks_reported", interfaces))
        return cls(**fields)


@dataclass
class Message:
    """One request of an agent: a prolog / contact (asks what to do) or an inventory."""

    kind: str  # "prolog", "contact", "inventory", or the unknown query/action in lower case
    format: str
    deviceid: str
    tag: str = ""
    inventory: Inventory | None = None
    tasks: list[str] = field(default_factory=list)  # GLPI Agent CONTACT: the tasks the agent would run


# --------------------------------------------------------------------------- helpers


def _text(value) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return re.sub(r"\s+", " ", str(value)).strip()


def _real(value) -> str:
    """A text value, "" when it is a firmware placeholder."""
    text = _text(value)
    return "" if _PLACEHOLDERS.match(text) else text


def _int(value) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if value >= 0 else None
    match = re.match(r"^\s*(\d+)(?:[.,]\d+)?", str(value))
    return int(match.group(1)) if match else None


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return _text(value).lower() in ("1", "true", "yes", "on")


def _lower_keys(item) -> dict:
    return {str(k).lower(): v for k, v in item.items()} if isinstance(item, dict) else {}


def _one(sections: dict, name: str) -> dict:
    value = sections.get(name)
    if isinstance(value, list):
        value = value[0] if value else {}
    return _lower_keys(value)


def _many(sections: dict, name: str) -> list[dict]:
    value = sections.get(name)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [_lower_keys(i) for i in items if isinstance(i, dict)]


def _cpu_64bit(cpu_name: str, cpu_arch: str, os_arch: str) -> bool | None:
    """64-bit capable? A 64-bit OS says yes; else the processor's family when it is unambiguous."""
    if _ARCH_64.search(os_arch) or _ARCH_64.search(cpu_arch):
        return True
    cpu_name = re.sub(r"\s+", " ", _CPU_NOISE.sub(" ", cpu_name)).strip()
    if _CPU_32.search(cpu_name):
        return False
    if _CPU_64.search(cpu_name):
        return True
    return None


def _disk_gb(storages: list[dict]) -> int | None:
    """Sum of the fixed physical disks (DISKSIZE in MB of 10^6 bytes), in GB: no CD, USB key, RAM disk…"""
    total = 0
    for s in storages:
        size = _int(s.get("disksize"))
        if not size:
            continue
        kind = " ".join(_text(s.get(k)) for k in ("type", "interface", "description"))
        if _NOT_FIXED_DISK.search(kind) or _PSEUDO_DISK_NAME.match(_text(s.get("name"))):
            continue
        total += size
    return round(total / 1000) if total else None


def _interfaces(networks: list[dict]) -> tuple[list[Interface], list[IgnoredInterface]]:
    kept: dict[str, Interface] = {}
    ignored: dict[tuple[str, str], IgnoredInterface] = {}
    for n in networks:
        name = _text(n.get("description")) or _text(n.get("name"))
        mac = n.get("macaddr", n.get("mac"))
        if mac in (None, "") and not name:
            continue
        result = classify(name, mac, _bool(n.get("virtualdev")), _text(n.get("type")))
        if isinstance(result, Interface):
            kept.setdefault(result.mac, result)
        else:
            ignored.setdefault((result.name, result.mac), result)
    # A PC has a handful of cards: the caps keep a hostile inventory from writing thousands of rows.
    return list(kept.values())[:MAX_INTERFACES], [i for i in ignored.values() if i.mac not in kept][:MAX_IGNORED]


def _inventory(fmt: str, deviceid: str, tag: str, sections: dict) -> Inventory:
    hardware, bios, system = _one(sections, "hardware"), _one(sections, "bios"), _one(sections, "operatingsystem")
    cpus = _many(sections, "cpus")
    memories = _many(sections, "memories")
    networks = _many(sections, "networks")
    cpu = cpus[0] if cpus else {}
    cpu_name = _real(cpu.get("name")) or _real(hardware.get("processort"))
    os_arch = _text(system.get("arch"))
    ram = sum(_int(m.get("capacity")) or 0 for m in memories) or _int(hardware.get("memory"))
    interfaces, ignored = _interfaces(networks)
    vm = _text(hardware.get("vmsystem"))
    return Inventory(
        format=fmt, deviceid=deviceid, tag=tag,
        hostname=(_text(hardware.get("name")) or _text(system.get("fqdn")).split(".")[0])[:80],
        serial=_text(bios.get("ssn"))[:80],
        system_uuid=_text(hardware.get("uuid"))[:40],
        maker=(_real(bios.get("smanufacturer")) or _real(bios.get("mmanufacturer")))[:80],
        model=(_real(bios.get("smodel")) or _real(bios.get("mmodel")))[:120],
        chassis=_text(hardware.get("chassis_type")) or _text(bios.get("type")),
        virtual_machine="" if vm.lower() in ("", "physical") else vm,
        cpu=cpu_name[:120],
        cpu_64bit=_cpu_64bit(cpu_name, _text(cpu.get("arch")), os_arch),
        ram_mb=ram or None,
        disk_gb=_disk_gb(_many(sections, "storages")),
        os_name=(_text(system.get("full_name")) or _text(system.get("name")) or _text(hardware.get("osname")))[:120],
        os_version=_text(system.get("version")) if (system.get("full_name") or system.get("name"))
        else _text(hardware.get("osversion")),
        os_arch=os_arch,
        interfaces=interfaces, ignored=ignored, networks_reported="networks" in sections,
        agent=_text(sections.get("versionclient"))[:80],
    )


def _tag_from_accountinfo(sections: dict) -> str:
    for info in _many(sections, "accountinfo"):
        if _text(info.get("keyname")).upper() == "TAG":
            return _text(info.get("keyvalue"))
    return ""


# --------------------------------------------------------------------------- XML (FusionInventory, OCS)


def _element_dict(element) -> dict:
    return {child.tag.lower(): (child.text or "").strip() for child in element}


def parse_xml(document: bytes) -> Message:
    try:
        root = SafeET.fromstring(_XML_FORBIDDEN.sub(b"", document), forbid_dtd=True)
    except SafeET.ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise ParseError(_("XML illisible (ligne %(l)s, colonne %(c)s) : document tronqué ou mal formé.")
                         % {"l": line, "c": column}, deviceid=_salvage(_XML_DEVICEID, document),
                         fmt=FUSION_XML) from None
    except (DefusedXmlException, ValueError):
        raise ParseError(_("XML refusé : DTD et entités ne sont pas acceptées."), fmt=FUSION_XML) from None
    if root.tag != "REQUEST":
        raise ParseError(_("XML inattendu : l'élément racine est <%(t)s>, <REQUEST> attendu.") % {"t": root.tag[:40]},
                         fmt=FUSION_XML)
    deviceid = (root.findtext("DEVICEID") or "").strip()[:120]
    query = (root.findtext("QUERY") or "").strip().lower()
    if not deviceid:
        raise ParseError(_("XML incomplet : <DEVICEID> manquant."), fmt=FUSION_XML)
    if query != "inventory":
        return Message(kind=query or "unknown", format=FUSION_XML, deviceid=deviceid)
    content = root.find("CONTENT")
    if content is None:
        raise ParseError(_("XML incomplet : <CONTENT> manquant dans l'inventaire."), deviceid=deviceid, fmt=FUSION_XML)
    sections: dict = {}
    for child in content:
        name = child.tag.lower()
        if len(child):
            sections.setdefault(name, []).append(_element_dict(child))
        else:
            sections[name] = (child.text or "").strip()
    tag = _tag_from_accountinfo(sections)[:40]
    return Message(kind="inventory", format=FUSION_XML, deviceid=deviceid, tag=tag,
                   inventory=_inventory(FUSION_XML, deviceid, tag, sections))


# --------------------------------------------------------------------------- JSON (GLPI Agent)


def parse_json(document: bytes) -> Message:
    try:
        data = json.loads(document.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ParseError(_("JSON illisible : le texte n'est pas en UTF-8."), fmt=GLPI_JSON) from None
    except json.JSONDecodeError as exc:
        raise ParseError(_("JSON illisible (ligne %(l)s, colonne %(c)s) : document tronqué ou mal formé.")
                         % {"l": exc.lineno, "c": exc.colno}, deviceid=_salvage(_JSON_DEVICEID, document),
                         fmt=GLPI_JSON) from None
    except RecursionError:
        raise ParseError(_("JSON refusé : imbrication trop profonde."), fmt=GLPI_JSON) from None
    if not isinstance(data, dict):
        raise ParseError(_("JSON inattendu : un objet {…} est attendu."), fmt=GLPI_JSON)
    data = _lower_keys(data)
    deviceid = _text(data.get("deviceid"))[:120]
    action = (_text(data.get("action")) or _text(data.get("query")) or "inventory").lower()
    if not deviceid:
        raise ParseError(_("JSON incomplet : champ « deviceid » manquant."), fmt=GLPI_JSON)
    tag = _text(data.get("tag"))[:40]
    if action != "inventory":
        enabled = data.get("enabled-tasks")
        tasks = [_text(t).lower() for t in enabled if _text(t)][:50] if isinstance(enabled, list) else []
        return Message(kind=action, format=GLPI_JSON, deviceid=deviceid, tag=tag, tasks=tasks)
    content = data.get("content")
    if not isinstance(content, dict):
        raise ParseError(_("JSON incomplet : objet « content » manquant dans l'inventaire."),
                         deviceid=deviceid, fmt=GLPI_JSON)
    sections = _lower_keys(content)
    tag = tag or _tag_from_accountinfo(sections)[:40]
    inventory = _inventory(GLPI_JSON, deviceid, tag, sections)
    inventory.itemtype = _text(data.get("itemtype")) or "Computer"
    return Message(kind="inventory", format=GLPI_JSON, deviceid=deviceid, tag=tag, inventory=inventory)


def parse(document: bytes) -> Message:
    """An agent document (already decompressed) -> Message; ParseError (HTTP 400) when unreadable."""
    start = document.lstrip(b" \t\r\n\xef\xbb\xbf")[:1]
    if start == b"<":
        return parse_xml(document)
    if start in (b"{", b"["):
        return parse_json(document)
    raise ParseError(_("Format inconnu : ni XML (FusionInventory) ni JSON (GLPI Agent)."))
