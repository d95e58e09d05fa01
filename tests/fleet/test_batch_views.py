"""Requalification batch pages: who may see and act, the full flow through the views, refusals, the report."""

import html as htmllib
import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from preau.core.models import AuditEntry
from preau.fleet import report, services
from preau.fleet.lifecycle import Status
from preau.fleet.models import (
    AssetEvent,
    BatchItem,
    Category,
    EligibilityRule,
    ErasureCertificate,
    Origin,
    RecyclingRecord,
    RequalificationBatch,
)

pytestmark = pytest.mark.django_db
B = RequalificationBatch.State


def text(response) -> str:
    """The response body with HTML entities decoded (Django escapes ' as &#x27;)."""
    return htmllib.unescape(response.content.decode())


def url(name, *args):
    return reverse(f"fleet:{name}", args=args)


def erasure_data(item, **extra):
    """The erasure form's POST data for one device (fields carry a per-device prefix)."""
    prefix = f"i{item.pk}-erasure-"
    data = {"disk_serial": f"WD-{item.asset.tag}", "disk_model": "WDC WD5000AAKX", "disk_size_gb": "500",
            "method": "purge", "tool": "nwipe 0.34", "pattern": "PRNG", "passes": "1",
            "verification": "passed", "operator": "Marc Perrin", "performed_on": date.today().isoformat(),
            "number": ""}
    data.update(extra)
    return {prefix + k: v for k, v in data.items()}


def reject_data(item, **extra):
    prefix = f"i{item.pk}-reject-"
    data = {"weight_kg": "8.5", "recycler": "Ecosystem", "certificate": "BSD-2026-42",
            "recycled_on": date.today().isoformat(), "notes": ""}
    data.update(extra)
    return {prefix + k: v for k, v in data.items()}


@pytest.fixture
def batch(fleet, cast):
    """A planned batch at Envie Loire: pc1 (eligible OptiPlex in a slot) and pc_old (32-bit HP, no slot)."""
    return services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1, fleet.pc_old],
                                    notes="Classe 1 et PC de l'école")


@pytest.fixture
def received(batch, cast):
    services.do_pickup_batch(cast.admin, batch)
    services.do_receive_batch(cast.workshop, batch)
    batch.refresh_from_db()
    return batch


def item_of(batch, asset):
    return batch.items.select_related("asset").get(asset=asset)


# --------------------------------------------------------------------------- access


def test_anonymous_goes_to_login(client, batch):
    for u in (url("batches"), url("batch-new"), url("eligibility-rules"), url("batch", batch.reference),
              url("batch-report", batch.reference), url("batch-report-pdf", batch.reference)):
        response = client.get(u)
        assert response.status_code == 302, u
        assert response["Location"].startswith(reverse("login")), u


@pytest.mark.parametrize("who", ["admin", "technician", "committee"])
def test_fleet_team_and_committee_list_every_batch(login, cast, fleet, batch, who):
    other = services.do_create_batch(cast.admin, workshop=fleet.other_workshop, assets=[fleet.pc_b])
    response = login(getattr(cast, who)).get(url("batches"))
    assert response.status_code == 200
    html = text(response)
    assert batch.reference in html and other.reference in html
    assert "<progress" in html and "0 / 2 traités" in html
    assert ("Nouveau lot" in html) == (who != "committee")


def test_workshop_lists_only_its_own_batches(login, cast, fleet, batch):
    other = services.do_create_batch(cast.admin, workshop=fleet.other_workshop, assets=[fleet.pc_b])
    response = login(cast.workshop).get(url("batches"))
    assert response.status_code == 200
    html = text(response)
    assert batch.reference in html
    assert other.reference not in html
    assert "Nouveau lot" not in html


@pytest.mark.parametrize("who", ["teacher_sa1", "director_sa1", "commune_a_staff", "advisor_c1"])
def test_school_and_commune_roles_are_refused_the_list(login, cast, batch, who):
    client = login(getattr(cast, who))
    assert client.get(url("batches")).status_code == 403
    assert client.get(url("eligibility-rules")).status_code == 403
    assert client.get(url("batch-new")).status_code == 403


@pytest.mark.parametrize("who", ["teacher_sa1", "director_sa1", "commune_a_staff", "advisor_c1"])
def test_school_and_commune_roles_do_not_find_a_batch(login, cast, batch, who):
    client = login(getattr(cast, who))
    for name in ("batch", "batch-report", "batch-report-pdf"):
        assert client.get(url(name, batch.reference)).status_code == 404, name
    assert client.post(url("batch-pickup", batch.reference), {"on": date.today()}).status_code == 404
    assert batch.items.first().asset.status == Status.DEPLOYED


def test_workshop_sees_its_batch_and_another_workshop_gets_404(login, cast, fleet, batch):
    response = login(cast.workshop).get(url("batch", batch.reference))
    assert response.status_code == 200
    assert "SEM-00001" in text(response)
    fleet.envie.members.remove(cast.workshop)
    fleet.other_workshop.members.add(cast.workshop)
    client = login(cast.workshop)
    assert client.get(url("batch", batch.reference)).status_code == 404
    assert client.get(url("batch-report", batch.reference)).status_code == 404
    response = client.post(url("batch-pickup", batch.reference), {"on": date.today()})
    assert response.status_code == 404
    batch.refresh_from_db()
    assert batch.state == B.PLANNED


def test_unknown_batch_is_404(login, cast, fleet):
    assert login(cast.admin).get(url("batch", "LOT-1999-999")).status_code == 404


def test_committee_reads_but_every_post_is_403(login, cast, fleet, received):
    client = login(cast.committee)
    response = client.get(url("batch", received.reference))
    assert response.status_code == 200
    html = text(response)
    assert "Enregistrer le certificat" not in html and "Retourner le lot" not in html
    item = item_of(received, fleet.pc1)
    posts = [
        (url("batch-pickup", received.reference), {"on": date.today()}),
        (url("batch-receive", received.reference), {"on": date.today()}),
        (url("batch-return", received.reference), {"on": date.today()}),
        (url("batch-deploy", received.reference), {}),
        (url("batch-item-erasure", received.reference, "SEM-00001"), erasure_data(item)),
        (url("batch-item-eligibility", received.reference, "SEM-00001"),
         {f"i{item.pk}-eligibility-eligible": "0", f"i{item.pk}-eligibility-reason": "x"}),
        (url("batch-item-convert", received.reference, "SEM-00001"), {}),
        (url("batch-item-reject", received.reference, "SEM-00001"), reject_data(item)),
        (url("batch-new"), {"school": cast.sa1.uai, "assets": ["SEM-00004"], "workshop": fleet.envie.pk}),
        (url("eligibility-rules"), {"min_ram_mb-active": "on", "min_ram_mb-value": "1"}),
    ]
    for u, data in posts:
        assert client.post(u, data).status_code == 403, u
    assert not ErasureCertificate.objects.exists()
    assert RequalificationBatch.objects.count() == 1
    assert EligibilityRule.objects.get(criterion="min_ram_mb").value == 2048
    assert item_of(received, fleet.pc1).eligibility == BatchItem.Eligibility.ELIGIBLE


def test_workshop_cannot_create_nor_deploy(login, cast, fleet, batch):
    client = login(cast.workshop)
    assert client.get(url("batch-new")).status_code == 403
    response = client.post(url("batch-new"), {"school": cast.sb1.uai, "assets": ["SEM-00004"],
                                              "workshop": fleet.envie.pk})
    assert response.status_code == 403
    assert RequalificationBatch.objects.count() == 1
    batch.state = B.RETURNED
    batch.save()
    assert client.post(url("batch-deploy", batch.reference)).status_code == 403
    batch.refresh_from_db()
    assert batch.state == B.RETURNED


def test_actions_are_post_only(login, cast, received):
    client = login(cast.admin)
    assert client.get(url("batch-return", received.reference)).status_code == 405
    assert client.get(url("batch-item-convert", received.reference, "SEM-00001")).status_code == 405


# --------------------------------------------------------------------------- creation


def test_new_batch_shows_the_school_candidates_all_checked(login, cast, fleet):
    response = login(cast.technician).get(url("batch-new"), {"school": cast.sa1.uai.lower()})
    assert response.status_code == 200
    html = text(response)
    # The two PCs of sa1, checked; not the projector, not the thin client, not the other school's PC.
    assert f'value="SEM-00001" id="pick-{fleet.pc1.pk}" checked' in html
    assert f'value="SEM-00006" id="pick-{fleet.pc_old.pk}" checked' in html
    for tag in ("SEM-00002", "SEM-00003", "SEM-00004", "SEM-00005"):
        assert f'value="{tag}"' not in html, tag
    assert "processeur 32 bits" in html  # predicted eligibility of the old HP
    assert "Envie Loire" in html


def test_new_batch_with_htmx_returns_only_the_candidates(login, cast, fleet):
    response = login(cast.admin).get(url("batch-new"), {"school": cast.sa1.uai, "categories": ["laptop"]},
                                     HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = text(response)
    assert html.startswith('<div id="candidates">')
    assert "<html" not in html
    assert "Aucun appareil candidat" in html  # no laptop in sa1


def test_new_batch_from_tags_preselects_them(login, cast, fleet):
    response = login(cast.admin).get(url("batch-new"), {"school": cast.sa1.uai, "tags": "sem-00006, SEM-00404"})
    html = text(response)
    assert f'value="SEM-00006" id="pick-{fleet.pc_old.pk}" checked' in html
    assert f'value="SEM-00001" id="pick-{fleet.pc1.pk}">' in html  # listed, not checked
    assert "SEM-00404" in html and "introuvables" in html


def test_unknown_school_is_said(login, cast, fleet):
    response = login(cast.admin).get(url("batch-new"), {"school": "0000000Z"})
    assert "École inconnue : UAI « 0000000Z »" in text(response)


def test_create_batch_from_a_selection(login, cast, fleet):
    client = login(cast.admin)
    response = client.post(url("batch-new"), {"school": cast.sa1.uai, "categories": ["desktop", "laptop"],
                                              "assets": ["SEM-00001", "SEM-00006"], "workshop": fleet.envie.pk,
                                              "notes": "Tournée de juin"})
    batch = RequalificationBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("batch", batch.reference)
    assert batch.workshop == fleet.envie and batch.notes == "Tournée de juin" and batch.created_by == cast.admin
    assert sorted(batch.items.values_list("asset__tag", flat=True)) == ["SEM-00001", "SEM-00006"]
    assert batch.items.get(asset=fleet.pc1).origin_slot == fleet.slot_pc1
    page = text(client.get(response["Location"]))
    assert "créé avec 2 appareils" in page


def test_create_refusals_are_400_and_create_nothing(login, cast, fleet, batch):
    client = login(cast.admin)
    base = {"school": cast.sa1.uai, "workshop": fleet.envie.pk}
    # pc1 is already in an open batch: the service refuses, with its reason.
    response = client.post(url("batch-new"), {**base, "tags": "SEM-00001", "assets": ["SEM-00001"]})
    assert response.status_code == 400
    assert "SEM-00001 : déjà dans un lot en cours." in text(response)
    # A projector named by tag cannot be requalified.
    response = client.post(url("batch-new"), {**base, "tags": "SEM-00002", "assets": ["SEM-00002"]})
    assert response.status_code == 400
    assert "ne se requalifie pas en client léger" in text(response)
    # Nothing checked, no workshop, a depot instead of a workshop.
    response = client.post(url("batch-new"), {"school": cast.sb1.uai, "workshop": fleet.envie.pk})
    assert response.status_code == 400
    assert "Cochez au moins un appareil." in text(response)
    response = client.post(url("batch-new"), {"school": cast.sb1.uai, "assets": ["SEM-00004"]})
    assert response.status_code == 400
    assert "Atelier partenaire" in text(response)
    response = client.post(url("batch-new"), {"school": cast.sb1.uai, "assets": ["SEM-00004"],
                                              "workshop": fleet.depot.pk})
    assert response.status_code == 400
    # An asset not in the selection is not a valid choice.
    response = client.post(url("batch-new"), {"school": cast.sb1.uai, "assets": ["SEM-00001"],
                                              "workshop": fleet.envie.pk})
    assert response.status_code == 400
    assert RequalificationBatch.objects.count() == 1
    assert BatchItem.objects.count() == 2


# --------------------------------------------------------------------------- the flow


def test_full_flow_through_the_views(login, cast, fleet, batch):
    admin = login(cast.admin)  # one test client: login() switches the user
    today = timezone.localdate()
    response = admin.post(url("batch-pickup", batch.reference), {"on": (today - timedelta(days=2)).isoformat()})
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.state == B.PICKED_UP and batch.picked_up_on == today - timedelta(days=2)
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.status == Status.IN_REQUALIFICATION and fleet.pc1.site == fleet.envie

    workshop = login(cast.workshop)
    response = workshop.post(url("batch-receive", batch.reference), {"on": today.isoformat()})
    assert response.status_code == 302
    page = text(workshop.get(url("batch", batch.reference)))
    assert "processeur 32 bits" in page
    pc1, old = item_of(batch, fleet.pc1), item_of(batch, fleet.pc_old)
    assert pc1.eligibility == BatchItem.Eligibility.ELIGIBLE
    assert old.eligibility == BatchItem.Eligibility.INELIGIBLE

    # Erasure certificates: htmx swaps the device's rows and the progress out of band.
    response = workshop.post(url("batch-item-erasure", batch.reference, "SEM-00001"), erasure_data(pc1),
                             HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = text(response)
    assert html.startswith(f'<tbody id="item-{pc1.pk}"')
    assert "certificat d'effacement EFF-" in html and "nwipe 0.34" in html
    assert 'id="batch-progress" aria-labelledby="h-progress" hx-swap-oob="true"' in html
    assert "1 effacés" in html
    cert = ErasureCertificate.objects.get(asset=fleet.pc1)
    assert (cert.method, cert.tool, cert.verification, cert.batch, cert.recorded_by) == (
        "purge", "nwipe 0.34", "passed", batch, cast.workshop)
    # Without JavaScript: POST + redirect to the device's anchor.
    response = workshop.post(url("batch-item-erasure", batch.reference, "SEM-00006"),
                             erasure_data(old, method="destroy", tool="broyeur", pattern="", number="PV-77"))
    assert response.status_code == 302
    assert response["Location"] == url("batch", batch.reference) + f"#item-{old.pk}"
    assert ErasureCertificate.objects.get(asset=fleet.pc_old).number == "PV-77"

    response = workshop.post(url("batch-item-convert", batch.reference, "SEM-00001"),
                             {f"i{pc1.pk}-convert-notes": "image Préau TC 2026"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "converti en client léger" in text(response)
    response = workshop.post(url("batch-item-reject", batch.reference, "SEM-00006"), reject_data(old),
                             HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "8.5" in text(response) or "8,5" in text(response)
    record = RecyclingRecord.objects.get(asset=fleet.pc_old)
    assert (record.weight_kg, record.recycler, record.certificate) == (Decimal("8.5"), "Ecosystem", "BSD-2026-42")

    response = workshop.post(url("batch-return", batch.reference), {"on": today.isoformat()})
    assert response.status_code == 302
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.status == Status.REQUALIFIED and fleet.pc1.school == cast.sa1
    assert fleet.pc1.category == Category.THIN_CLIENT and fleet.pc1.origin == Origin.REQUALIFIED

    assert workshop.post(url("batch-deploy", batch.reference)).status_code == 403
    admin = login(cast.admin)
    response = admin.post(url("batch-deploy", batch.reference))
    assert response.status_code == 302
    batch.refresh_from_db()
    fleet.pc1.refresh_from_db()
    fleet.slot_pc1.refresh_from_db()
    assert batch.state == B.CLOSED
    assert fleet.pc1.status == Status.DEPLOYED and fleet.slot_pc1.asset == fleet.pc1
    assert fleet.pc1.tag == "SEM-00001"
    assert AssetEvent.objects.filter(asset=fleet.pc1, batch=batch, kind=AssetEvent.Kind.REQUALIFIED).exists()
    page = text(admin.get(url("batch", batch.reference)))
    assert f"Lot {batch.reference} déployé" in page
    assert 'aria-current="step">clos (déployé)' in page
    assert "2 / 2 appareils traités (100 %)" in page


def test_workshop_overrides_eligibility_with_a_reason(login, cast, fleet, received):
    client = login(cast.workshop)
    old = item_of(received, fleet.pc_old)
    prefix = f"i{old.pk}-eligibility-"
    response = client.post(url("batch-item-eligibility", received.reference, "SEM-00006"),
                           {prefix + "eligible": "1", prefix + "reason": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    html = text(response)
    assert "Le motif est obligatoire." in html and 'role="alert"' in html
    assert html.startswith(f'<tbody id="item-{old.pk}"')
    assert "<details open" in html
    assert item_of(received, fleet.pc_old).eligibility == BatchItem.Eligibility.INELIGIBLE
    response = client.post(url("batch-item-eligibility", received.reference, "SEM-00006"),
                           {prefix + "eligible": "1", prefix + "reason": "testé : démarre en PXE 64 bits"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    item = item_of(received, fleet.pc_old)
    assert item.eligibility == BatchItem.Eligibility.ELIGIBLE
    assert item.reasons[-1] == "testé : démarre en PXE 64 bits"
    assert AuditEntry.objects.filter(object_type="fleet.batchitem", object_id=str(item.pk)).exists()


def test_item_refusals_are_400_and_change_nothing(login, cast, fleet, received):
    client = login(cast.workshop)
    pc1, old = item_of(received, fleet.pc1), item_of(received, fleet.pc_old)
    # Convert before any erasure: refused by the service (htmx and plain POST).
    response = client.post(url("batch-item-convert", received.reference, "SEM-00001"), {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "il faut d'abord un certificat d'effacement vérifié" in text(response)
    response = client.post(url("batch-item-convert", received.reference, "SEM-00001"), {})
    assert response.status_code == 400
    assert "il faut d'abord un certificat d'effacement vérifié" in text(response)
    assert "<html" in text(response)
    # Converting an ineligible device.
    response = client.post(url("batch-item-convert", received.reference, "SEM-00006"), {})
    assert response.status_code == 400
    assert "n'est pas éligible" in text(response)
    # Reject without erasure; then an erasure that failed verification does not count either.
    response = client.post(url("batch-item-reject", received.reference, "SEM-00006"), reject_data(old),
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "doivent être effacées" in text(response)
    client.post(url("batch-item-erasure", received.reference, "SEM-00001"),
                erasure_data(pc1, verification="failed"))
    response = client.post(url("batch-item-convert", received.reference, "SEM-00001"), {})
    assert response.status_code == 400
    # Bad erasure form: missing tool, future date, unknown method, duplicate number.
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    bad = erasure_data(pc1, tool="", performed_on=tomorrow, method="shred")
    response = client.post(url("batch-item-erasure", received.reference, "SEM-00001"), bad)
    assert response.status_code == 400
    html = text(response)
    assert "Outil" in html and "futur" in html and "Méthode" in html
    existing = ErasureCertificate.objects.get().number
    response = client.post(url("batch-item-erasure", received.reference, "SEM-00001"),
                           erasure_data(pc1, number=existing))
    assert response.status_code == 400
    assert f"Le certificat {existing} existe déjà." in text(response)
    # Bad recycling form: weight zero, no recycler.
    client.post(url("batch-item-erasure", received.reference, "SEM-00006"), erasure_data(old, method="destroy"))
    response = client.post(url("batch-item-reject", received.reference, "SEM-00006"),
                           reject_data(old, weight_kg="0", recycler=""))
    assert response.status_code == 400
    # Return with devices still pending.
    response = client.post(url("batch-return", received.reference), {"on": timezone.localdate().isoformat()})
    assert response.status_code == 400
    assert "Appareils sans résultat" in text(response)
    # A step date in the future.
    response = client.post(url("batch-return", received.reference), {"on": tomorrow})
    assert response.status_code == 400
    assert "futur" in text(response)
    # A device that is not in the batch.
    assert client.post(url("batch-item-convert", received.reference, "SEM-00004"), {}).status_code == 404

    received.refresh_from_db()
    assert received.state == B.RECEIVED
    assert ErasureCertificate.objects.count() == 2  # the failed one and the destroy one
    assert not RecyclingRecord.objects.exists()
    assert set(received.items.values_list("result", flat=True)) == {BatchItem.Result.PENDING}
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.category == Category.DESKTOP and fleet.pc1.status == Status.IN_REQUALIFICATION


def test_a_finished_device_takes_no_more_actions(login, cast, fleet, received):
    client = login(cast.workshop)
    old = item_of(received, fleet.pc_old)
    client.post(url("batch-item-erasure", received.reference, "SEM-00006"), erasure_data(old, method="destroy"))
    assert client.post(url("batch-item-reject", received.reference, "SEM-00006"),
                       reject_data(old)).status_code == 302
    response = client.post(url("batch-item-reject", received.reference, "SEM-00006"), reject_data(old))
    assert response.status_code == 400
    assert "a déjà un résultat" in text(response)
    prefix = f"i{old.pk}-eligibility-"
    response = client.post(url("batch-item-eligibility", received.reference, "SEM-00006"),
                           {prefix + "eligible": "1", prefix + "reason": "finalement oui"})
    assert response.status_code == 400
    assert RecyclingRecord.objects.count() == 1
    assert item_of(received, fleet.pc_old).eligibility == BatchItem.Eligibility.INELIGIBLE


def test_steps_refused_at_the_wrong_state(login, cast, fleet, batch):
    client = login(cast.admin)
    response = client.post(url("batch-return", batch.reference), {"on": timezone.localdate().isoformat()})
    assert response.status_code == 400
    assert "action impossible à ce stade" in text(response)
    response = client.post(url("batch-deploy", batch.reference))
    assert response.status_code == 400
    old = item_of(batch, fleet.pc_old)
    response = client.post(url("batch-item-erasure", batch.reference, "SEM-00006"), erasure_data(old))
    assert response.status_code == 400
    assert "action impossible à ce stade" in text(response)
    batch.refresh_from_db()
    assert batch.state == B.PLANNED
    assert not ErasureCertificate.objects.exists()


def test_detail_shows_only_the_actions_of_the_state(login, cast, fleet, batch):
    client = login(cast.workshop)
    html = text(client.get(url("batch", batch.reference)))
    assert "Enregistrer l'enlèvement" in html
    assert "Enregistrer le certificat" not in html
    services.do_pickup_batch(cast.admin, batch)
    services.do_receive_batch(cast.admin, batch)
    html = text(client.get(url("batch", batch.reference)))
    assert "Enregistrer le certificat" in html and "Retourner le lot" in html
    assert "Convertir SEM-00001 en client léger" in html
    assert "Convertir SEM-00006 en client léger" not in html  # not eligible


# --------------------------------------------------------------------------- report


def _finish(batch, cast, fleet):
    services.do_pickup_batch(cast.admin, batch)
    services.do_receive_batch(cast.admin, batch)
    pc1, old = item_of(batch, fleet.pc1), item_of(batch, fleet.pc_old)
    common = {"verification": "passed", "operator": "Œdipe L’Hôpital", "performed_on": date(2026, 5, 4),
              "passes": 3, "tool": "nwipe 0.34", "disk_model": "Seagate"}
    services.do_record_erasure(cast.workshop, pc1, disk_serial="Z1", method="purge", pattern="DoD short…",
                               **common)
    services.do_record_erasure(cast.workshop, old, disk_serial="Z2", method="destroy", **common)
    services.do_convert(cast.workshop, pc1)
    services.do_reject(cast.workshop, old, weight_kg=Decimal("9.25"), recycler="Ecosystem", certificate="BSD-1")


def test_report_html(login, cast, fleet, batch):
    _finish(batch, cast, fleet)
    response = login(cast.committee).get(url("batch-report", batch.reference))
    assert response.status_code == 200
    html = text(response)
    assert "preau.css" in html  # its print rules (A4 landscape, no navigation) live there
    assert 'id="total-converted">1<' in html and 'id="total-rejected">1<' in html
    assert "9.25 kg" in html or "9,25 kg" in html
    assert "CZC1111" in html and "Dell OptiPlex 3020" in html and "processeur 32 bits" in html
    assert "effacement (clear)" not in html
    assert "purge (purge)" in html and "destruction physique (destroy)" in html
    assert "Œdipe L’Hôpital" in html and "nwipe 0.34" in html and "3 passes" in html
    assert "Ecosystem, BSD-1" in html


def test_report_pdf(login, cast, fleet, batch):
    _finish(batch, cast, fleet)
    response = login(cast.workshop).get(url("batch-report-pdf", batch.reference))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"rapport-{batch.reference}.pdf" in response["Content-Disposition"]
    body = response.content
    assert body.startswith(b"%PDF")
    assert len(body) > 2000


def _pdf_text(pdf: bytes, tmp_path) -> str | None:
    """The PDF's text through poppler's pdftotext when installed (Debian poppler-utils), else None."""
    if not shutil.which("pdftotext"):
        return None
    path = tmp_path / "r.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True, check=True)
    return " ".join(out.stdout.split())  # table cells wrap: compare with single spaces


def test_pdf_text_holds_french_characters(cast, fleet, batch, tmp_path):
    """With DejaVu the PDF embeds a TrueType font; the text read back keeps œ, ’ and …"""
    _finish(batch, cast, fleet)
    data = report.build(batch)
    assert (data.converted, data.rejected, data.weight_kg, data.certificates) == (1, 1, Decimal("9.25"), 2)
    pdf = report.render_pdf(data)
    assert pdf.startswith(b"%PDF")
    if report.font_dir() is None:
        pytest.skip("no DejaVu font (Debian fonts-dejavu-core): the latin-1 fallback is tested below")
    assert b"DejaVu" in pdf
    text = _pdf_text(pdf, tmp_path)
    if text is not None:
        assert f"Rapport du lot de requalification {batch.reference}" in text
        assert "Œdipe L’Hôpital" in text and "DoD short…" in text
        assert "SEM-00001" in text and "CZC6666" in text and "BSD-1" in text
        assert "1 convertis en clients légers, 1 rejetés" in text and "9,25 kg" in text


def test_pdf_without_dejavu_falls_back_to_latin1(settings, tmp_path, cast, fleet, batch):
    _finish(batch, cast, fleet)
    settings.PREAU_PDF_FONT_DIR = str(tmp_path)  # no font there
    assert report.font_dir() is None
    pdf = report.render_pdf(report.build(batch))
    assert pdf.startswith(b"%PDF") and b"DejaVu" not in pdf and b"Helvetica" in pdf
    text = _pdf_text(pdf, tmp_path)
    if text is not None:
        assert "OEdipe L'Hôpital" in text and "DoD short..." in text and "Réceptionné le" in text


def test_latin1_transliteration():
    assert report.to_latin1("Œdipe l’été… — 5 €") == "OEdipe l'été... - 5 EUR"
    assert report.to_latin1("Gödöllő, Łódź") == "Gödöllo, ?ódz"
    assert report.to_latin1("中") == "?"


# --------------------------------------------------------------------------- eligibility rules


def test_rules_page_read_only_for_fleet_team_and_workshop(login, cast, fleet):
    for who in ("technician", "committee", "workshop"):
        response = login(getattr(cast, who)).get(url("eligibility-rules"))
        assert response.status_code == 200, who
        html = text(response)
        assert "mémoire minimale (Mo)" in html and "2048" in html
        assert "Enregistrer les règles" not in html
    assert login(cast.technician).post(url("eligibility-rules"), {}).status_code == 403


def test_admin_edits_the_rules(login, cast, fleet):
    client = login(cast.admin)
    assert "Enregistrer les règles" in text(client.get(url("eligibility-rules")))
    data = {"cpu_64bit-active": "on", "netboot-active": "on", "min_ram_mb-active": "on",
            "min_ram_mb-value": "4096", "max_age_years-value": "12", "min_disk_gb-active": "on",
            "min_disk_gb-value": "16"}
    response = client.post(url("eligibility-rules"), data)
    assert response.status_code == 302
    rules = {r.criterion: (r.active, r.value) for r in EligibilityRule.objects.all()}
    assert rules["min_ram_mb"] == (True, 4096)
    assert rules["max_age_years"] == (False, 12)
    assert rules["min_disk_gb"] == (True, 16)
    assert rules["cpu_64bit"] == (True, None)
    assert AuditEntry.objects.filter(object_type="fleet.eligibilityrule").count() == 3


def test_rules_refusal_writes_nothing(login, cast, fleet):
    client = login(cast.admin)
    response = client.post(url("eligibility-rules"), {"min_ram_mb-active": "on", "min_ram_mb-value": "",
                                                      "cpu_64bit-active": ""})
    assert response.status_code == 400
    assert "une valeur est nécessaire" in text(response)
    assert EligibilityRule.objects.get(criterion="cpu_64bit").active is True
    response = client.post(url("eligibility-rules"), {"min_ram_mb-active": "on", "min_ram_mb-value": "-5"})
    assert response.status_code == 400
    assert EligibilityRule.objects.get(criterion="min_ram_mb").value == 2048


def test_batch_pages_take_a_bounded_number_of_queries(login, cast, fleet, django_assert_max_num_queries):
    """The list and a batch's page do not query per device (measured with 2 and with 12 devices)."""
    extra = [services.do_create_asset(cast.admin, model=fleet.optiplex, tag=f"SEM-1{n:04d}", school=cast.sa2)
             for n in range(10)]
    small = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1, fleet.pc_old])
    big = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc_b, *extra])
    for b in (small, big):
        services.do_pickup_batch(cast.admin, b)
        services.do_receive_batch(cast.admin, b)
    client = login(cast.workshop)
    counts = []
    for b in (small, big):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("batch", b.reference)).status_code == 200
        counts.append(len(ctx.captured_queries))
        with django_assert_max_num_queries(12):
            assert client.get(url("batch-report", b.reference)).status_code == 200
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(10):
        assert client.get(url("batches")).status_code == 200
