"""HTTP: the agent endpoint (both protocols, compression, limits, token) and the queue pages (allowed / denied)."""

import base64
import gzip
import json
import zlib
from pathlib import Path

import pytest
from django.urls import reverse

from preau.fleet.models import (
    AgentSubmission,
    Asset,
    AssetEvent,
    Category,
    DeviceModel,
    NetworkInterface,
    Slot,
)

DATA = Path(__file__).parent / "data"
OUT = AgentSubmission.Outcome
URL = "/parc/agent/"


def read(name: str) -> bytes:
    return (DATA / name).read_bytes()


def post(client, body: bytes, content_type="application/x-compress-zlib", **extra):
    return client.post(URL, data=body, content_type=content_type, **extra)


def test_route_name():
    assert reverse("fleet:agent") == URL
    assert reverse("fleet:intake") == "/parc/inventaires/"


# --------------------------------------------------------------------------- the FusionInventory exchange


def test_prolog_then_zlib_inventory(client, fleet):
    r = post(client, zlib.compress(read("fusion_prolog.xml")), HTTP_USER_AGENT="FusionInventory-Agent_v2.6")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/xml")
    assert b"<REPLY><PROLOG_FREQ>24</PROLOG_FREQ><RESPONSE>SEND</RESPONSE></REPLY>" in r.content
    assert not AgentSubmission.objects.exists()  # a prolog is not an inventory
    r = post(client, read("fusion_desktop.xml.zlib"))
    assert r.status_code == 200 and b"<REPLY>" in r.content
    sub = AgentSubmission.objects.get()
    assert (sub.outcome, sub.format, sub.deviceid, sub.remote_addr) == (
        OUT.QUEUED, "fusion_xml", "tilleuls-cp-01-2026-09-02-08-30-11", "127.0.0.1")
    assert sub.data["hostname"] == "tilleuls-cp-01"


def test_plain_xml_inventory_of_a_known_asset(client, fleet):
    body = read("fusion_desktop.xml").replace(b"<SSN>4XKQ2Z1</SSN>", b"<SSN>CZC1111</SSN>")
    r = post(client, body, content_type="application/xml")
    assert r.status_code == 200
    sub = AgentSubmission.objects.get()
    assert (sub.outcome, sub.asset_id, sub.matched_by) == (OUT.MATCHED, fleet.pc1.pk, "serial")
    assert Asset.objects.get(pk=fleet.pc1.pk).hostname == "tilleuls-cp-01"


def test_glpi_agent_prolog_contact_and_gzip_json(client, fleet):
    r = post(client, zlib.compress(read("fusion_prolog.xml")), HTTP_GLPI_AGENT_ID="3a5f1b0c-6d2e-4f11-9a7b-1c2d3e4f5a6b")
    assert r.status_code == 200 and r.json() == {"status": "ok", "expiration": 24}
    r = post(client, zlib.compress(read("glpi_contact.json")))
    assert r.json() == {"status": "ok", "expiration": 24, "disabled": ["deploy"]}
    r = post(client, gzip.compress(read("glpi_laptop.json")), content_type="application/x-compress-gzip")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    sub = AgentSubmission.objects.get()
    assert (sub.format, sub.outcome, sub.school) == ("glpi_json", OUT.QUEUED, fleet.pc1.school)


def test_unsupported_queries(client, db):
    r = post(client, b"<REQUEST><DEVICEID>x</DEVICEID><QUERY>SNMPQUERY</QUERY></REQUEST>", "application/xml")
    assert r.status_code == 501
    r = post(client, b'{"action": "netdiscovery", "deviceid": "x"}', "application/json")
    assert r.status_code == 501 and r.json()["status"] == "error"


def test_get_is_not_allowed(client, db):
    r = client.get(URL)
    assert r.status_code == 405 and r["Allow"] == "POST"


# --------------------------------------------------------------------------- refusals


def test_unknown_tag_is_refused_with_422(client, fleet):
    r = post(client, zlib.compress(read("fusion_desktop.xml").replace(b"0429901j", b"0000000A")))
    assert r.status_code == 422 and "0000000A" in r.content.decode()
    sub = AgentSubmission.objects.get()
    assert sub.outcome == OUT.REJECTED and "0000000A" in sub.message
    doc = json.loads(read("glpi_laptop.json"))
    doc["tag"] = "0000000A"
    r = post(client, json.dumps(doc).encode(), "application/json")
    assert r.status_code == 422 and r.json()["status"] == "error" and "0000000A" in r.json()["message"]


def test_school_mismatch_is_refused(client, fleet):
    body = read("fusion_desktop.xml").replace(b"<SSN>4XKQ2Z1</SSN>", b"<SSN>CZC4444</SSN>")  # pc_b, in sb1
    r = post(client, body, "application/xml")
    assert r.status_code == 422 and "SEM-00004" in r.content.decode()
    assert Asset.objects.get(pk=fleet.pc_b.pk).hostname == ""


@pytest.mark.parametrize(("name", "status", "pattern"), [
    ("fusion_truncated.xml", 400, "XML illisible"),
    ("fusion_desktop_truncated.xml.zlib", 400, "tronquées"),
    ("fusion_dtd_entities.xml", 400, "DTD"),
])
def test_broken_bodies_are_refused_and_nothing_is_written(client, fleet, name, status, pattern):
    r = post(client, read(name))
    assert r.status_code == status and pattern in r.content.decode()
    assert not AgentSubmission.objects.exists()
    assert not NetworkInterface.objects.exists()
    # the server keeps serving
    assert post(client, read("fusion_desktop.xml.zlib")).status_code == 200


def test_malformed_json_with_a_readable_deviceid_is_recorded(client, fleet):
    doc = read("glpi_laptop.json")
    r = post(client, zlib.compress(doc[:2000]))
    assert r.status_code == 400 and r.json()["status"] == "error"
    sub = AgentSubmission.objects.get()
    assert (sub.outcome, sub.deviceid) == (OUT.REJECTED, "PORTABLE-DIR-SA1-2026-10-05-14-02-55")
    assert "JSON illisible" in sub.message and not Asset.objects.filter(hostname="PORTABLE-DIR-SA1").exists()


def test_page_of_an_unreadable_submission(login, cast, fleet, client):
    post(client, zlib.compress(read("glpi_laptop.json")[:2000]))
    sub = AgentSubmission.objects.get()
    r = login(cast.admin).get(reverse("fleet:intake-submission", args=[sub.pk]))
    assert r.status_code == 200 and "JSON illisible" in r.content.decode() and r.context["inv"] is None


def test_oversized_and_zip_bomb(client, fleet, settings):
    settings.PREAU_AGENT_MAX_BYTES = 100_000
    r = post(client, b"<REQUEST>" + b" " * 200_000 + b"</REQUEST>", "application/xml")
    assert r.status_code == 413 and "trop volumineux" in r.content.decode()
    bomb = zlib.compress(b"<REQUEST>" + b" " * 10_000_000, 9)
    r = post(client, bomb)
    assert r.status_code == 413
    assert not AgentSubmission.objects.exists()
    assert post(client, read("fusion_desktop.xml.zlib")).status_code == 200


@pytest.mark.parametrize("body", [b"", b"\x00garbage", b"not xml"])
def test_garbage(client, db, body):
    assert post(client, body).status_code == 400
    assert not AgentSubmission.objects.exists()


# --------------------------------------------------------------------------- shared secret


def basic(password: str, user: str = "agent") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_token_required_when_set(client, fleet, settings):
    settings.PREAU_AGENT_TOKEN = "s3cret-écoles"
    r = post(client, read("fusion_desktop.xml.zlib"))
    assert r.status_code == 401 and r["WWW-Authenticate"].startswith("Basic realm=")
    assert post(client, read("fusion_desktop.xml.zlib"), HTTP_AUTHORIZATION=basic("wrong")).status_code == 401
    assert post(client, read("fusion_desktop.xml.zlib"), HTTP_AUTHORIZATION="Basic !!!").status_code == 401
    assert not AgentSubmission.objects.exists()
    r = post(client, read("fusion_desktop.xml.zlib"), HTTP_AUTHORIZATION=basic("s3cret-écoles"))
    assert r.status_code == 200 and AgentSubmission.objects.count() == 1


def test_open_when_no_token(client, fleet, settings):
    settings.PREAU_AGENT_TOKEN = ""
    assert post(client, read("fusion_desktop.xml.zlib")).status_code == 200


# --------------------------------------------------------------------------- queue pages


@pytest.fixture
def queue(fleet, client):
    """One queued (the OptiPlex 7010 of sa1), one refused (unknown TAG), one matched (pc1)."""
    post(client, read("fusion_desktop.xml.zlib"))
    post(client, zlib.compress(read("fusion_whitebox_bogus.xml").replace(b"0429902K", b"0000000A")))
    nic = read("fusion_vm_mac_only.xml").replace(b"<SSN>Not Specified</SSN>", b"<SSN>CZC1111</SSN>")
    post(client, nic, "application/xml")
    client.logout()
    return {s.outcome: s for s in AgentSubmission.objects.all()}


@pytest.mark.parametrize("who", ["admin", "technician"])
def test_queue_allowed(login, cast, queue, who):
    r = login(getattr(cast, who)).get(reverse("fleet:intake"))
    assert r.status_code == 200
    html = r.content.decode()
    assert "tilleuls-cp-01" in html  # the queued one, the default tab
    assert "PRE-SALLE-INFO-07" not in html and "vm-tc-build" not in html
    assert "Inconnu, à placer (1)" in html and "Refusé (1)" in html and "Placé (0)" in html
    r = login(getattr(cast, who)).get(reverse("fleet:intake"), {"outcome": "rejected"})
    assert "PRE-SALLE-INFO-07" in r.content.decode() and "0000000A" in r.content.decode()
    r = login(getattr(cast, who)).get(reverse("fleet:intake"), {"outcome": "matched"})
    assert "vm-tc-build" in r.content.decode() and "SEM-00001" in r.content.decode()
    r = login(getattr(cast, who)).get(reverse("fleet:intake"), {"outcome": "all"})
    assert r.context["page"].paginator.count == 3


@pytest.mark.parametrize("who", ["committee", "commune_a_staff", "advisor_c1", "director_sa1", "teacher_sa1",
                                 "workshop"])
def test_queue_denied(login, cast, queue, who):
    user = getattr(cast, who)
    assert login(user).get(reverse("fleet:intake")).status_code == 403
    assert login(user).get(reverse("fleet:intake-submission", args=[queue[OUT.QUEUED].pk])).status_code == 403


def test_queue_anonymous_goes_to_login(client, queue):
    r = client.get(reverse("fleet:intake"))
    assert r.status_code == 302 and "login" in r["Location"]


def test_submission_page(login, cast, queue):
    c = login(cast.technician)
    r = c.get(reverse("fleet:intake-submission", args=[queue[OUT.QUEUED].pk]))
    assert r.status_code == 200
    html = r.content.decode()
    assert "18:db:f2:4a:11:01" in html and "docker0" in html and "4XKQ2Z1" in html
    form = r.context["form"]
    assert form.initial["tag"] == "SEM-00007" and form.initial["school"] == "0429901J"
    assert form.initial["maker"] == "Dell" and form.initial["category"] == Category.DESKTOP
    assert c.get(reverse("fleet:intake-submission", args=[queue[OUT.MATCHED].pk])).context["form"] is None
    r = c.post(reverse("fleet:intake-submission", args=[queue[OUT.MATCHED].pk]), {"tag": "SEM-00099"})
    assert r.status_code == 409 and not Asset.objects.filter(tag="SEM-00099").exists()
    assert c.get(reverse("fleet:intake-submission", args=[99999])).status_code == 404


def test_place_creates_and_deploys_the_asset(login, cast, fleet, queue):
    slot = Slot.objects.create(school=cast.sa1, school_class=fleet.class2, category=Category.DESKTOP,
                               label="PC élèves Classe 2")
    sub = queue[OUT.QUEUED]
    c = login(cast.technician)
    r = c.post(reverse("fleet:intake-submission", args=[sub.pk]), {
        "tag": "sem-00007", "maker": "Dell Inc.", "model_name": "OptiPlex 7010", "category": "desktop",
        "school": "0429901J", "slot": slot.pk, "deploy": "on"})
    assert r.status_code == 302
    asset = Asset.objects.get(tag="SEM-00007")
    assert (asset.status, asset.school_class, asset.serial, asset.hostname) == (
        "deployed", fleet.class2, "4XKQ2Z1", "tilleuls-cp-01")
    assert asset.model == DeviceModel.objects.get(maker="Dell", name="OptiPlex 7010")
    assert list(asset.interfaces.values_list("mac", flat=True)) == ["18:db:f2:4a:11:01"]
    slot.refresh_from_db()
    assert slot.asset_id == asset.pk
    sub.refresh_from_db()
    assert (sub.outcome, sub.asset_id) == (OUT.PLACED, asset.pk)
    assert asset.events.filter(kind=AssetEvent.Kind.CREATED, user=cast.technician).exists()
    # the agent's next run matches the new asset
    client = c.__class__()
    assert post(client, read("fusion_desktop.xml.zlib")).status_code == 200
    latest = AgentSubmission.objects.latest("received_at")
    assert (latest.outcome, latest.asset_id, latest.matched_by) == (OUT.MATCHED, asset.pk, "serial")


def test_place_with_a_catalogue_model_in_stock_at_the_depot(login, cast, fleet, queue):
    sub = queue[OUT.QUEUED]
    r = login(cast.admin).post(reverse("fleet:intake-submission", args=[sub.pk]), {
        "tag": "SEM-00050", "model": fleet.optiplex.pk, "category": "desktop", "school": ""})
    assert r.status_code == 302
    asset = Asset.objects.get(tag="SEM-00050")
    assert (asset.status, asset.model, asset.site, asset.school) == ("in_stock", fleet.optiplex, fleet.depot, None)


def test_place_invalid_writes_nothing(login, cast, fleet, queue):
    sub = queue[OUT.QUEUED]
    c = login(cast.technician)
    r = c.post(reverse("fleet:intake-submission", args=[sub.pk]), {
        "tag": "SEM-00001", "category": "desktop", "school": "0429901J", "deploy": "on"})
    assert r.status_code == 400
    errors = r.context["form"].errors
    assert "SEM-00001" in errors["tag"][0] and "model" in errors
    r = c.post(reverse("fleet:intake-submission", args=[sub.pk]), {
        "tag": "SEM-00060", "model": fleet.optiplex.pk, "category": "desktop", "school": "0429901J",
        "slot": fleet.slot_proj1.pk})
    assert r.status_code == 400  # an occupied projector slot is not offered
    r = c.post(reverse("fleet:intake-submission", args=[sub.pk]), {
        "tag": "SEM-00060", "model": fleet.optiplex.pk, "category": "desktop", "school": "9999999Z"})
    assert r.status_code == 400 and "9999999Z" in r.context["form"].errors["school"][0]
    assert not Asset.objects.filter(tag__in=["SEM-00060"]).exists()
    assert AgentSubmission.objects.get(pk=sub.pk).outcome == OUT.QUEUED


def test_place_denied(login, cast, fleet, queue):
    sub = queue[OUT.QUEUED]
    r = login(cast.committee).post(reverse("fleet:intake-submission", args=[sub.pk]), {
        "tag": "SEM-00070", "model": fleet.optiplex.pk, "category": "desktop", "school": "0429901J"})
    assert r.status_code == 403
    assert not Asset.objects.filter(tag="SEM-00070").exists()


def test_dismiss_allowed_and_denied(login, cast, queue):
    sub = queue[OUT.REJECTED]
    assert login(cast.director_sa1).post(reverse("fleet:intake-dismiss", args=[sub.pk])).status_code == 403
    assert AgentSubmission.objects.get(pk=sub.pk).outcome == OUT.REJECTED
    r = login(cast.technician).post(reverse("fleet:intake-dismiss", args=[sub.pk]), {"reason": "poste de test"})
    assert r.status_code == 302
    sub.refresh_from_db()
    assert sub.outcome == OUT.IGNORED and "poste de test" in sub.message
    assert login(cast.technician).get(reverse("fleet:intake-dismiss", args=[sub.pk])).status_code == 405
