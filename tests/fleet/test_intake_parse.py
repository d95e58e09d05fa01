"""Agent payloads -> one normalized inventory: FusionInventory XML (plain, zlib, gzip), GLPI Agent JSON,
identifiers that must not be trusted, MAC filtering, size limits and broken bodies."""

import gzip
import json
import zlib
from pathlib import Path

import pytest

from preau.fleet.agent import identity, parse, payload
from preau.fleet.agent.parse import FUSION_XML, GLPI_JSON, Inventory, ParseError
from preau.fleet.agent.payload import PayloadError

DATA = Path(__file__).parent / "data"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def message(name: str):
    return parse.parse(payload.decode(read(name)))


# --------------------------------------------------------------------------- FusionInventory XML


def test_fusion_desktop_inventory_is_normalized():
    m = message("fusion_desktop.xml")
    inv = m.inventory
    assert (m.kind, m.format, m.deviceid) == ("inventory", FUSION_XML, "tilleuls-cp-01-2026-09-02-08-30-11")
    assert m.tag == inv.tag == "0429901j"  # normalized (upper case) by the intake, not by the parser
    assert inv.hostname == "tilleuls-cp-01"
    assert inv.usable_serial == "4XKQ2Z1"
    assert inv.usable_uuid == "4c4c4544-0058-4b10-8051-b4c04f325a31"
    assert (inv.maker, inv.model, inv.category) == ("Dell Inc.", "OptiPlex 7010", "desktop")
    assert inv.cpu == "Intel(R) Core(TM) i5-3470 CPU @ 3.20GHz" and inv.cpu_64bit is True
    assert inv.ram_mb == 8192  # the two DIMMs, not the OS's 7845 MB, and the empty slot ("No") ignored
    assert inv.disk_gb == 620  # 500 GB + 120 GB; the DVD drive and the USB key are not counted
    assert inv.os == "Debian GNU/Linux 12 (bookworm) 12.8" and inv.os_arch == "x86_64"
    assert inv.virtual_machine == ""
    assert inv.agent == "FusionInventory-Agent_v2.6-3"
    assert [(i.name, i.mac) for i in inv.interfaces] == [("eno1", "18:db:f2:4a:11:01")]
    ignored = {i.name: i.reason for i in inv.ignored}
    assert ignored == {"lo": "null", "docker0": "name", "virbr0": "flagged", "veth3f1a2b9": "name",
                       "vmnet8": "name"}


def test_zlib_and_gzip_bodies_give_the_same_inventory():
    plain = message("fusion_desktop.xml").inventory.summary()
    assert message("fusion_desktop.xml.zlib").inventory.summary() == plain
    gz = gzip.compress(read("fusion_desktop.xml"))
    assert parse.parse(payload.decode(gz, "application/x-compress-gzip")).inventory.summary() == plain


def test_prolog():
    m = message("fusion_prolog.xml")
    assert (m.kind, m.deviceid, m.inventory) == ("prolog", "tilleuls-cp-01-2026-09-02-08-30-11", None)


def test_whitebox_placeholders_are_not_identifiers():
    inv = message("fusion_whitebox_bogus.xml").inventory
    assert inv.serial == "System Serial Number" and inv.usable_serial == ""
    assert inv.system_uuid == "03000200-0400-0500-0006-000700080009" and inv.usable_uuid == ""
    assert inv.maker == "ASUSTeK COMPUTER INC." and inv.model == "H81M-K"  # the board, not "System Product Name"
    assert inv.cpu_64bit is True  # a Pentium G3220 is 64-bit capable even under a 32-bit Windows
    assert [i.mac for i in inv.interfaces] == ["30:5a:3a:7b:c1:07"]  # 30-5A-3A-… normalized


def test_vm_keeps_its_own_qemu_mac():
    inv = message("fusion_vm_mac_only.xml").inventory
    assert inv.usable_serial == "" and inv.usable_uuid == ""
    assert inv.virtual_machine == "QEMU"
    assert [(i.mac, i.local) for i in inv.interfaces] == [("52:54:00:12:34:56", True)]
    assert identity.hypervisor_of("52:54:00:12:34:56") == "QEMU/KVM"


def test_control_characters_in_xml_are_tolerated():
    doc = read("fusion_desktop.xml").replace(b"libreoffice-writer", b"libreoffice\x07-writer\x1b")
    assert parse.parse(doc).inventory.hostname == "tilleuls-cp-01"


# --------------------------------------------------------------------------- GLPI Agent JSON


def test_glpi_laptop_inventory_is_normalized():
    m = message("glpi_laptop.json")
    inv = m.inventory
    assert (m.kind, m.format, m.tag) == ("inventory", GLPI_JSON, "0429901J")
    assert inv.hostname == "PORTABLE-DIR-SA1" and inv.usable_serial == "PF3KX9ZQ"
    assert (inv.maker, inv.model, inv.category) == ("LENOVO", "ThinkPad L14 Gen 2", "laptop")
    assert inv.ram_mb == 16384 and inv.disk_gb == 512  # the USB key is not a disk of the machine
    assert inv.cpu_64bit is True and inv.os == "Microsoft Windows 11 Professionnel 23H2"
    kept = {i.mac for i in inv.interfaces}
    assert kept == {"a4:c3:f0:5b:7e:21", "8c:8c:aa:10:2f:9b", "a4:c3:f0:5b:7e:25"}
    reasons = {i.mac: i.reason for i in inv.ignored}
    assert reasons["00:15:5d:01:c8:0a"] == "description"  # Hyper-V vEthernet of the host
    assert reasons["0a:00:27:00:00:11"] == "description"  # VirtualBox host-only
    assert reasons["a6:c3:f0:5b:7e:21"] == "flagged"


def test_glpi_contact_and_gzip_json():
    m = message("glpi_contact.json")
    assert (m.kind, m.format, m.tag, m.inventory) == ("contact", GLPI_JSON, "0429901J", None)
    assert m.tasks == ["inventory", "deploy"]
    body = gzip.compress(read("glpi_laptop.json"))
    assert parse.parse(payload.decode(body)).inventory.usable_serial == "PF3KX9ZQ"


def test_glpi_accountinfo_tag_and_upper_case_keys():
    doc = json.dumps({"DEVICEID": "pc-1", "QUERY": "INVENTORY", "CONTENT": {
        "ACCOUNTINFO": [{"KEYNAME": "TAG", "KEYVALUE": "0429903L"}], "HARDWARE": {"NAME": "pc"}}}).encode()
    m = parse.parse(doc)
    assert (m.kind, m.tag, m.inventory.hostname) == ("inventory", "0429903L", "pc")


def test_summary_round_trip():
    inv = message("glpi_laptop.json").inventory
    again = Inventory.from_summary(json.loads(json.dumps(inv.summary())))
    assert again.summary() == inv.summary()


# --------------------------------------------------------------------------- identifiers


@pytest.mark.parametrize("serial", ["To be filled by O.E.M.", "To Be Filled By O.E.M.", "Default string", "0",
                                    "None", "System Serial Number", "123456789", "", "   ", "00000000", "XXXXXXXX",
                                    "Not Specified", "Chassis Serial Number", None])
def test_bogus_serials(serial):
    assert identity.usable_serial(serial) == ""


@pytest.mark.parametrize("serial", ["CZC1111", "4XKQ2Z1", "VMware-56 4d 9a 1e 2b 3c", "PF3KX9ZQ"])
def test_real_serials(serial):
    assert identity.usable_serial(f"  {serial} ") == serial


@pytest.mark.parametrize("uuid", ["00000000-0000-0000-0000-000000000000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
                                  "03000200-0400-0500-0006-000700080009", "not-a-uuid", ""])
def test_bogus_uuids(uuid):
    assert identity.usable_uuid(uuid) == ""


def test_uuid_normalization_and_byte_order():
    assert identity.usable_uuid("{4C4C4544-0058-4B10-8051-B4C04F325A31}") == "4c4c4544-0058-4b10-8051-b4c04f325a31"
    assert identity.usable_uuid("4C4C454400584B108051B4C04F325A31") == "4c4c4544-0058-4b10-8051-b4c04f325a31"
    assert identity.swapped_uuid("4c4c4544-0058-4b10-8051-b4c04f325a31") == "44454c4c-5800-104b-8051-b4c04f325a31"


@pytest.mark.parametrize(("name", "mac", "flag", "kept"), [
    ("eth0", "00:1A:2B:3C:4D:5E", False, True),
    ("enp1s0", "52:54:00:12:34:56", False, True),      # QEMU guest NIC: the VM's own address
    ("Ethernet", "08-00-27-AA-BB-CC", False, True),    # VirtualBox guest NIC
    ("eth0", "00:50:56:8a:01:02", False, True),        # VMware guest NIC
    ("eth0", "02:fc:00:00:00:01", False, True),        # locally administered, physical interface
    ("eth0", "00:00:00:00:00:00", False, False),
    ("eth0", "ff:ff:ff:ff:ff:ff", False, False),
    ("eth0", "01:00:5e:00:00:fb", False, False),       # multicast
    ("eth0", "zz:00:00:00:00:00", False, False),
    ("eth0", "00:1a:2b:3c:4d:5e", True, False),        # the agent says virtual
    ("lo", "00:1a:2b:3c:4d:5e", False, False),
    ("docker0", "02:42:ac:11:00:01", False, False),
    ("veth12ab", "6e:1d:33:8a:41:c2", False, False),
    ("virbr0", "52:54:00:fa:20:0e", False, False),
    ("br-5f2e", "02:42:aa:bb:cc:dd", False, False),
    ("vmnet1", "00:50:56:c0:00:01", False, False),
    ("tun0", "00:ff:00:00:00:01", False, False),
    ("tap0", "00:ff:00:00:00:02", False, False),
    ("Intel(R) Ethernet", "00:50:56:C0:00:08", False, False),  # VMware host adapter, same on every PC
])
def test_mac_classification(name, mac, flag, kept):
    assert isinstance(identity.classify(name, mac, flag), identity.Interface) is kept


def test_mac_normalization():
    assert identity.normalize_mac("001a.2b3c.4d5e") == "00:1a:2b:3c:4d:5e"
    assert identity.normalize_mac("001A2B3C4D5E") == "00:1a:2b:3c:4d:5e"
    assert identity.normalize_mac("00:1a:2b") == ""


# --------------------------------------------------------------------------- bad bodies


def test_truncated_xml_says_where():
    with pytest.raises(ParseError, match=r"XML illisible \(ligne \d+, colonne \d+\)") as exc:
        message("fusion_truncated.xml")
    assert exc.value.status == 400


def test_truncated_zlib():
    with pytest.raises(PayloadError, match="tronquées"):
        message("fusion_desktop_truncated.xml.zlib")


def test_dtd_and_entities_are_refused():
    with pytest.raises(ParseError, match="DTD"):
        message("fusion_dtd_entities.xml")


def test_malformed_json_keeps_the_deviceid():
    doc = read("glpi_laptop.json")
    with pytest.raises(ParseError, match=r"JSON illisible \(ligne") as exc:
        parse.parse(doc[: len(doc) // 2])
    assert exc.value.deviceid == "PORTABLE-DIR-SA1-2026-10-05-14-02-55"


@pytest.mark.parametrize(("body", "pattern"), [
    (b"", "vide"),
    (b"hello", "Format inconnu"),
    (b"[1, 2]", "objet"),
    (b'{"action": "inventory"}', "deviceid"),
    (b'{"action": "inventory", "deviceid": "x"}', "content"),
    (b"<REQUEST><QUERY>INVENTORY</QUERY></REQUEST>", "DEVICEID"),
    (b"<REQUEST><DEVICEID>x</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>", "CONTENT"),
    (b"<html><body>proxy</body></html>", "REQUEST"),
])
def test_incomplete_documents(body, pattern):
    with pytest.raises(PayloadError, match=pattern):
        parse.parse(payload.decode(body))


def test_size_limit_plain_and_zip_bomb():
    with pytest.raises(PayloadError) as exc:
        payload.decode(b"<" + b" " * 2000, limit=1000)
    assert exc.value.status == 413
    bomb = zlib.compress(b" " * (20 * 1024 * 1024), 9)
    assert len(bomb) < 100_000
    with pytest.raises(PayloadError, match="trop volumineux") as exc:
        payload.decode(bomb, "application/x-compress-zlib", limit=5 * 1024 * 1024)
    assert exc.value.status == 413
    assert payload.decode(zlib.compress(b"<a/>"), limit=10) == b"<a/>"


def test_compressed_content_type_with_garbage():
    with pytest.raises(PayloadError, match="ni zlib ni gzip"):
        payload.decode(b"\x00\x01\x02garbage", "application/x-compress-zlib")


def test_limit_setting(settings):
    settings.PREAU_AGENT_MAX_BYTES = 1234
    assert payload.max_bytes() == 1234


def test_interfaces_are_capped():
    networks = "".join(f"<NETWORKS><DESCRIPTION>eth{n}</DESCRIPTION><MACADDR>00:1a:2b:00:{n >> 8:02x}:{n & 255:02x}"
                       f"</MACADDR></NETWORKS>" for n in range(500))
    doc = f"<REQUEST><DEVICEID>x</DEVICEID><QUERY>INVENTORY</QUERY><CONTENT>{networks}</CONTENT></REQUEST>"
    inv = parse.parse(doc.encode()).inventory
    assert len(inv.interfaces) == parse.MAX_INTERFACES and inv.interfaces[0].name == "eth0"
