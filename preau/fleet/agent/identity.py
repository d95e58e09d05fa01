"""What can identify a machine: a real serial number, a real SMBIOS UUID, a real MAC address.

Firmware often ships placeholders ("To be filled by O.E.M.", an all-zero UUID…) that many
machines share: matching on them would merge different devices, so they are never used.

MAC addresses: the agent reports every interface, real or not. Kept for matching are the
unicast, non-null addresses of interfaces that are not virtual:
- dropped: 00:00:00:00:00:00, broadcast and multicast addresses, malformed ones;
- dropped: interfaces the agent flags as virtual (VIRTUALDEV), and virtual interfaces by name
  (lo, docker*, veth*, virbr*, br-*, vmnet*, tun*, tap*, vboxnet*, …) or by Windows description
  (Hyper-V vEthernet, VirtualBox Host-Only, VMware VMnet, TAP-Windows, VPN adapters, …);
- dropped: the fixed host-side adapters of hypervisors (VMware 00:50:56:C0:00:xx, VirtualBox
  host-only 0A:00:27:00:00:xx), identical on every PC that runs them;
- kept: hypervisor OUIs on a guest's own NIC (QEMU/KVM 52:54:00, VMware 00:0C:29/00:50:56,
  VirtualBox 08:00:27, Hyper-V 00:15:5D, Xen 00:16:3E): that is the virtual machine's identity;
- kept: locally administered addresses (second hex digit 2, 6, A or E) on a non-virtual
  interface. Hypervisors give guests such addresses (QEMU's 52:54:00 is one), so dropping them
  would leave many VMs unmatchable; a randomised Wi-Fi address simply never matches anything.
  They are marked `local` so that the queue page can say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# Lower-cased, stripped. Placeholders seen in SMBIOS tables of white-box and OEM machines.
BOGUS_SERIALS = frozenset({
    "", "0", "00", "none", "null", "n/a", "na", "not specified", "not applicable", "not available",
    "to be filled by o.e.m.", "to be filled by oem", "to be filled by o.e.m", "default string", "default",
    "system serial number", "chassis serial number", "base board serial number", "serial number",
    "123456789", "1234567890", "0123456789", "12345678", "oem", "o.e.m.", "invalid", "unknown",
    "empty", "no asset information", "type1sku0", "system product name", "sn12345678",
})
BOGUS_UUIDS = frozenset({
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "03000200-0400-0500-0006-000700080009",  # many cheap boards (and its byte-swapped reading below)
    "00020003-0004-0005-0006-000700080009",
    "12345678-1234-5678-90ab-cddeefaabbcc",
})
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEX12_RE = re.compile(r"^[0-9a-f]{12}$")

# Linux interface names of virtual devices (containers, bridges, tunnels, hypervisor host side).
VIRTUAL_NAME_RE = re.compile(
    r"^(lo(:.*)?|docker\d*|veth.*|virbr.*|br-.*|vmnet\d*|vboxnet\d*|tun\d*|tap.*|vnet\d+|lxcbr\d*|lxdbr\d*|"
    r"cni\d*|flannel.*|cali.*|weave.*|kube-.*|cilium.*|vxlan.*|genev.*|ifb\d*|dummy\d*|wg\d*|zt.*|"
    r"tailscale\d*|ppp\d*|sit\d*|gre\d*|gretap\d*|ip6tnl\d*|ip_vti\d*|nlmon\d*|teql\d*|erspan\d*|"
    r"macvtap\d*|vrf.*|utun\d*|awdl\d*|llw\d*|anpi\d*|bridge\d*|gif\d*|stf\d*)$",
    re.IGNORECASE,
)
# Words of Windows adapter descriptions (and a few macOS ones) that say "not a physical NIC".
VIRTUAL_DESCRIPTION_RE = re.compile(
    r"virtual ethernet|virtual adapter|virtual network|vethernet|host-only|vmware network adapter|"
    r"tap-windows|wintun|wireguard|zerotier|tailscale|miniport|loopback|pseudo-interface|teredo|isatap|"
    r"6to4|kernel debug|npcap|anyconnect|fortinet|globalprotect|pangp|juniper|openvpn|wi-fi direct|"
    r"hyper-v virtual",
    re.IGNORECASE,
)
# Host-side adapters whose address is the same on every machine running the hypervisor.
HOST_ADAPTER_PREFIXES = ("00:50:56:c0:00:", "0a:00:27:00:00:")
HYPERVISOR_OUIS = {
    "52:54:00": "QEMU/KVM", "00:0c:29": "VMware", "00:50:56": "VMware", "00:05:69": "VMware",
    "08:00:27": "VirtualBox", "00:15:5d": "Hyper-V", "00:16:3e": "Xen", "00:1c:42": "Parallels",
}


def usable_serial(value) -> str:
    """The serial stripped, or "" when it is a placeholder that many machines share."""
    serial = str(value or "").strip()
    low = serial.lower()
    if low in BOGUS_SERIALS or len(serial) < 3:
        return ""
    if len(set(low.replace("-", "").replace(" ", ""))) <= 1:  # 00000000, XXXXXXXX, ........
        return ""
    if low.startswith(("to be filled", "default string", "system serial")):
        return ""
    return serial


def normalize_uuid(value) -> str:
    """`{4C4C4544-...}` / `4c4c4544...` -> `4c4c4544-...` (lower case, dashed), or "" when not a UUID."""
    text = str(value or "").strip().strip("{}").lower()
    if _UUID_RE.match(text):
        return text
    compact = text.replace("-", "")
    if re.fullmatch(r"[0-9a-f]{32}", compact):
        return f"{compact[:8]}-{compact[8:12]}-{compact[12:16]}-{compact[16:20]}-{compact[20:]}"
    return ""


def usable_uuid(value) -> str:
    """The normalized SMBIOS UUID, or "" when absent or a placeholder (all zeros, all F, known fakes)."""
    uuid = normalize_uuid(value)
    if not uuid or uuid in BOGUS_UUIDS:
        return ""
    if len(set(uuid.replace("-", ""))) <= 1:
        return ""
    return uuid


def swapped_uuid(uuid: str) -> str:
    """The same SMBIOS UUID read with the other byte order for its first three fields.

    SMBIOS before 2.6 did not say which order to use: dmidecode and Windows (WMI) may show the same
    firmware UUID as 4C4C4544-0034-3010-8048-B6C04F503732 or 44454C4C-3400-1030-8048-B6C04F503732.
    """
    a, b, c, d, e = uuid.split("-")

    def swap(h: str) -> str:
        return "".join(reversed([h[i:i + 2] for i in range(0, len(h), 2)]))

    return "-".join([swap(a), swap(b), swap(c), d, e])


def normalize_mac(value) -> str:
    """`00-1A-2B-3C-4D-5E`, `001a.2b3c.4d5e`, `001A2B3C4D5E` -> `00:1a:2b:3c:4d:5e`, or "" when malformed."""
    hexdigits = re.sub(r"[\s:.\-]", "", str(value or "")).lower()
    if not _HEX12_RE.match(hexdigits):
        return ""
    return ":".join(hexdigits[i:i + 2] for i in range(0, 12, 2))


def is_locally_administered(mac: str) -> bool:
    return bool(int(mac[:2], 16) & 0x02)


def is_multicast(mac: str) -> bool:
    return bool(int(mac[:2], 16) & 0x01)


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str
    local: bool = False  # locally administered address (hypervisor-assigned or randomised)


@dataclass(frozen=True)
class IgnoredInterface:
    name: str
    mac: str
    reason: str


REASONS = {
    "malformed": _("adresse absente ou invalide"),
    "null": _("adresse nulle"),
    "multicast": _("adresse de diffusion ou multicast"),
    "flagged": _("interface virtuelle (selon l'agent)"),
    "name": _("interface virtuelle (nom)"),
    "description": _("adaptateur virtuel ou VPN"),
    "host_adapter": _("adaptateur hôte d'hyperviseur (adresse commune à tous les postes)"),
}


def classify(name: str, mac_value, virtual_flag: bool | None, description: str = "") -> Interface | IgnoredInterface:
    """One reported interface -> kept (Interface) or ignored with the reason's key (IgnoredInterface)."""
    name = (name or "").strip()[:40]
    mac = normalize_mac(mac_value)
    shown = mac or str(mac_value or "")[:17]
    if not mac:
        return IgnoredInterface(name, shown, "malformed")
    if mac == "00:00:00:00:00:00":
        return IgnoredInterface(name, mac, "null")
    if is_multicast(mac):
        return IgnoredInterface(name, mac, "multicast")
    if virtual_flag:
        return IgnoredInterface(name, mac, "flagged")
    if VIRTUAL_NAME_RE.match(name):
        return IgnoredInterface(name, mac, "name")
    if VIRTUAL_DESCRIPTION_RE.search(name) or VIRTUAL_DESCRIPTION_RE.search(description or ""):
        return IgnoredInterface(name, mac, "description")
    if mac.startswith(HOST_ADAPTER_PREFIXES):
        return IgnoredInterface(name, mac, "host_adapter")
    return Interface(name, mac, local=is_locally_administered(mac))


def hypervisor_of(mac: str) -> str:
    return HYPERVISOR_OUIS.get(mac[:8], "")
