"""The asset pages: list (scope, filters, exports), an asset's page and its actions, the stock; allowed and
denied for each view, refusals shown without change, bounded queries."""

import csv
import io
from datetime import date

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from preau.fleet import services, views_assets
from preau.fleet.lifecycle import Status
from preau.fleet.models import Asset, AssetEvent, Category, Slot

pytestmark = pytest.mark.django_db

ALL_TAGS = ["SEM-00001", "SEM-00002", "SEM-00003", "SEM-00004", "SEM-00005", "SEM-00006"]


def asset_url(tag, name="fleet:asset"):
    return reverse(name, args=[tag])


def events(asset):
    return list(AssetEvent.objects.filter(asset=asset).values_list("kind", "from_status", "to_status", "reason"))


# --------------------------------------------------------------------------- access


def test_anonymous_is_sent_to_login(client, fleet):
    for url in [reverse("fleet:assets"), reverse("fleet:assets-export", args=["csv"]), reverse("fleet:stock"),
                reverse("fleet:asset-new"), asset_url("SEM-00001"), asset_url("SEM-00001", "fleet:asset-replace"),
                reverse("fleet:labels")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


@pytest.mark.parametrize("who,visible", [
    ("admin", ALL_TAGS),
    ("technician", ALL_TAGS),
    ("committee", ALL_TAGS),
    ("commune_a_staff", ["SEM-00001", "SEM-00002", "SEM-00003", "SEM-00006"]),
    ("advisor_c1", ["SEM-00001", "SEM-00002", "SEM-00003", "SEM-00006"]),
    ("teacher_sa1", ["SEM-00001", "SEM-00002", "SEM-00003", "SEM-00006"]),
    ("director_sb1", ["SEM-00004"]),
    ("workshop", []),
])
def test_list_and_pages_follow_the_scope(login, cast, fleet, who, visible):
    client = login(getattr(cast, who))
    response = client.get(reverse("fleet:assets"))
    assert response.status_code == 200
    html = response.content.decode()
    for tag in ALL_TAGS:
        page = client.get(asset_url(tag))
        if tag in visible:
            assert f'href="/parc/appareils/{tag}/"' in html, tag
            assert page.status_code == 200, tag
        else:
            assert f"/parc/appareils/{tag}/" not in html, tag
            assert page.status_code == 404, tag


def test_workshop_sees_the_assets_of_its_batches_only(login, cast, fleet):
    client = login(cast.workshop)
    assert client.get(asset_url("SEM-00001")).status_code == 404
    services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])
    services.do_create_batch(cast.admin, workshop=fleet.other_workshop, assets=[fleet.pc_b])
    html = client.get(reverse("fleet:assets")).content.decode()
    assert "SEM-00001" in html and "SEM-00004" not in html
    assert client.get(asset_url("SEM-00001")).status_code == 200
    assert client.get(asset_url("SEM-00004")).status_code == 404


def test_actions_are_shown_to_the_fleet_team_only(login, cast, fleet):
    html = login(cast.technician).get(asset_url("SEM-00001")).content.decode()
    assert "Changer le statut" in html and reverse("fleet:asset-replace", args=["SEM-00001"]) in html
    html = login(cast.teacher_sa1).get(asset_url("SEM-00001")).content.decode()
    assert "Changer le statut" not in html and "/remplacer/" not in html and "/modifier/" not in html


@pytest.mark.parametrize("name,data", [
    ("fleet:asset-transition", {"target": "failed", "reason": "écran noir"}),
    ("fleet:asset-deploy", {"school": "0429901J", "place": "school"}),
    ("fleet:asset-move", {"site": "1"}),
    ("fleet:asset-replace", {"replacement": "SEM-00005", "next_status": "in_repair"}),
    ("fleet:asset-edit", {"serial": "HACK", "origin": "purchased"}),
])
def test_actions_by_a_teacher_are_forbidden_and_change_nothing(login, cast, fleet, name, data):
    client = login(cast.teacher_sa1)
    before = events(fleet.pc1)
    assert client.post(asset_url("SEM-00001", name), data).status_code == 403
    assert client.get(asset_url("SEM-00001", name)).status_code in (403, 405)
    # out of scope: a 404, not a 403 (the asset's existence is not revealed)
    assert client.post(asset_url("SEM-00004", name), data).status_code == 404
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.status == Status.DEPLOYED and fleet.pc1.serial == "CZC1111"
    assert events(fleet.pc1) == before


def test_new_asset_is_for_the_fleet_team(login, cast, fleet):
    client = login(cast.director_sa1)
    assert client.get(reverse("fleet:asset-new")).status_code == 403
    data = {"tag": "SEM-00100", "model": fleet.optiplex.pk, "serial": "NEW100", "origin": "purchased"}
    assert client.post(reverse("fleet:asset-new"), data).status_code == 403
    assert not Asset.objects.filter(tag="SEM-00100").exists()
    client = login(cast.technician)
    response = client.post(reverse("fleet:asset-new"), data | {"purchased_on": "2026-09-01", "reason": "achat"})
    assert response.status_code == 302 and response["Location"] == asset_url("SEM-00100")
    asset = Asset.objects.get(tag="SEM-00100")
    assert asset.category == Category.DESKTOP and asset.status == Status.IN_STOCK
    assert asset.site == fleet.depot and asset.purchased_on == date(2026, 9, 1)
    assert events(asset) == [("created", "", "in_stock", "achat")]
    again = client.post(reverse("fleet:asset-new"), data | {"serial": "OTHER"})
    assert again.status_code == 400
    assert "existe déjà" in again.content.decode()
    assert Asset.objects.filter(tag="SEM-00100").count() == 1


def test_stock_for_fleet_team_and_committee_only(login, cast, fleet):
    services.do_transition(cast.admin, fleet.proj1, Status.FAILED, "lampe grillée")
    html = login(cast.technician).get(reverse("fleet:stock")).content.decode()
    assert "Dépôt de l&#x27;agglomération" in html and "1 appareil disponible" in html
    assert "SEM-00002" in html and reverse("fleet:asset-replace", args=["SEM-00002"]) in html
    response = login(cast.committee).get(reverse("fleet:stock"))
    assert response.status_code == 200
    assert "SEM-00002" in response.content.decode() and "/remplacer/" not in response.content.decode()
    for who in ("teacher_sa1", "director_sa1", "commune_a_staff", "workshop"):
        assert login(getattr(cast, who)).get(reverse("fleet:stock")).status_code == 403, who


# --------------------------------------------------------------------------- the asset page


def test_asset_page_shows_specs_place_and_timeline(login, cast, fleet):
    services.do_transition(cast.admin, fleet.pc1, Status.FAILED, "ne démarre plus", ticket="T-42")
    services.do_update_asset(cast.admin, fleet.pc1, "inventaire", ram_mb=8192)
    html = login(cast.teacher_sa1).get(asset_url("SEM-00001")).content.decode()
    assert "Intel Core i3-4150" in html  # the model's value (the machine says nothing)
    assert "8192" in html and "4096" not in html  # the machine's value over the model's
    assert "PC de la Classe 1" in html and "École des Tilleuls" in html and "Classe 1" in html
    assert "ne démarre plus" in html and "T-42" in html and "déployé → en panne" in html
    assert "trop ancien" in html  # bought in 2015


def test_asset_page_links_batches_and_other_assets(login, cast, fleet):
    batch = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])
    services.do_pickup_batch(cast.admin, batch)
    html = login(cast.technician).get(asset_url("SEM-00001")).content.decode()
    assert batch.reference in html
    assert "enlèvement du lot" in html and "Envie Loire" in html


def test_asset_page_shows_erasure_and_recycling(login, cast, fleet):
    batch = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc_old])
    services.do_pickup_batch(cast.admin, batch)
    services.do_receive_batch(cast.admin, batch)
    item = batch.items.get()
    services.do_record_erasure(cast.workshop, item, disk_serial="WD-123", method="purge", tool="nwipe 0.34",
                               verification="passed", operator="Atelier Envie", performed_on=date(2026, 10, 2))
    services.do_reject(cast.workshop, item, weight_kg="8.50", recycler="Ecosystem", certificate="BSD-77",
                       recycled_on=date(2026, 10, 3))
    html = login(cast.workshop).get(asset_url("SEM-00006")).content.decode()
    assert "WD-123" in html and "purge (purge)" in html and "nwipe 0.34" in html and "vérifié, conforme" in html
    assert "Ecosystem" in html and "BSD-77" in html and "8,50 kg" in html
    assert "recyclé (DEEE)" in html and reverse("fleet:batch", args=[batch.reference]) in html


def test_change_of_status_through_the_page(login, cast, fleet):
    client = login(cast.technician)
    response = client.post(asset_url("SEM-00001", "fleet:asset-transition"),
                           {"target": "failed", "reason": "écran noir", "ticket": "T-7"})
    assert response.status_code == 302
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.status == Status.FAILED
    assert events(fleet.pc1)[0] == ("status", "deployed", "failed", "écran noir")
    assert AssetEvent.objects.filter(asset=fleet.pc1, ticket="T-7").exists()


def test_refused_transition_shows_the_french_message_and_changes_nothing(login, cast, fleet):
    client = login(cast.technician)
    before = events(fleet.pc1)
    response = client.post(asset_url("SEM-00001", "fleet:asset-transition"),
                           {"target": "requalified", "reason": "essai"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Transition refusée : un appareil « déployé » ne peut pas passer à « requalifié »" in html
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.status == Status.DEPLOYED and fleet.pc1.school_class == fleet.class1
    assert Slot.objects.get(pk=fleet.slot_pc1.pk).asset_id == fleet.pc1.pk
    assert events(fleet.pc1) == before
    # "deployed" is not a plain change of status: it needs a place
    response = client.post(asset_url("SEM-00005", "fleet:asset-transition"), {"target": "deployed", "reason": "x"})
    assert response.status_code == 400 and "Déployer" in response.content.decode()
    assert Asset.objects.get(tag="SEM-00005").status == Status.IN_STOCK


def test_status_form_offers_what_the_lifecycle_allows(login, cast, fleet):
    html = login(cast.technician).get(asset_url("SEM-00001")).content.decode()
    form = html[html.index('name="target"'):html.index("</select>", html.index('name="target"'))]
    assert 'value="failed"' in form and 'value="in_stock"' in form
    assert 'value="requalified"' not in form and 'value="deployed"' not in form and 'value="recycled"' not in form


def test_deploy_into_an_empty_slot(login, cast, fleet):
    slot = Slot.objects.create(school=cast.sa1, school_class=fleet.class1, category=Category.THIN_CLIENT,
                               label="Client léger élèves")
    client = login(cast.technician)
    html = client.get(asset_url("SEM-00005", "fleet:asset-deploy") + "?school=0429901J").content.decode()
    assert "Client léger élèves" in html
    assert "Client léger enseignant de la Classe 2" not in html  # taken by tc1
    assert "PC de la Classe 1" not in html  # another category
    response = client.post(asset_url("SEM-00005", "fleet:asset-deploy"),
                           {"school": "0429901J", "place": f"slot:{slot.pk}", "reason": "rentrée"})
    assert response.status_code == 302
    spare = Asset.objects.get(tag="SEM-00005")
    assert spare.status == Status.DEPLOYED and spare.school_class == fleet.class1 and spare.site is None
    assert Slot.objects.get(pk=slot.pk).asset == spare


def test_deploy_refusals(login, cast, fleet):
    client = login(cast.technician)
    # a slot that is not offered (taken by tc1): the form refuses, nothing changes
    response = client.post(asset_url("SEM-00005", "fleet:asset-deploy"),
                           {"school": "0429901J", "place": f"slot:{fleet.slot_tc2.pk}"})
    assert response.status_code == 400
    # an unknown school
    response = client.post(asset_url("SEM-00005", "fleet:asset-deploy"), {"school": "0000000A", "place": "school"})
    assert response.status_code == 400 and "École inconnue" in response.content.decode()
    # a deployed device cannot be deployed again: the lifecycle says so
    response = client.post(asset_url("SEM-00001", "fleet:asset-deploy"), {"school": "0429901J", "place": "school"})
    assert response.status_code == 400 and "déjà « déployé »" in response.content.decode()
    assert Asset.objects.get(tag="SEM-00005").status == Status.IN_STOCK
    assert Slot.objects.get(pk=fleet.slot_tc2.pk).asset == fleet.tc1


def test_move_to_a_site_and_refused_for_a_deployed_device(login, cast, fleet):
    client = login(cast.technician)
    response = client.post(asset_url("SEM-00005", "fleet:asset-move"), {"site": fleet.envie.pk, "reason": "test"})
    assert response.status_code == 302
    assert Asset.objects.get(tag="SEM-00005").site == fleet.envie
    response = client.post(asset_url("SEM-00005", "fleet:asset-move") ,
                           {"school": "0429902K", "school_class": fleet.class_b.pk})
    assert response.status_code == 302
    spare = Asset.objects.get(tag="SEM-00005")
    assert spare.school == cast.sb1 and spare.school_class == fleet.class_b and spare.site is None
    response = client.post(asset_url("SEM-00001", "fleet:asset-move"), {"site": fleet.depot.pk})
    assert response.status_code == 400
    assert "Un appareil déployé change de place" in response.content.decode()
    assert Asset.objects.get(tag="SEM-00001").school_class == fleet.class1


def test_replace_flow_through_the_page(login, cast, fleet):
    at_depot = services.do_create_asset(cast.admin, model=fleet.optiplex, tag="SEM-00020", serial="D20")
    at_school = services.do_create_asset(cast.admin, model=fleet.dc7800, tag="SEM-00021", serial="D21",
                                         school=cast.sa1)
    services.do_create_asset(cast.admin, model=fleet.optiplex, tag="SEM-00022", serial="D22", school=cast.sb1)
    services.do_transition(cast.admin, fleet.pc1, Status.FAILED, "disque mort")
    client = login(cast.technician)
    html = client.get(asset_url("SEM-00001", "fleet:asset-replace")).content.decode()
    assert html.index("SEM-00021") < html.index("SEM-00020")  # same school first, then the depot
    assert "SEM-00022" not in html  # stock of another school is not "near"
    assert "SEM-00005" not in html  # a thin client cannot take a desktop's slot
    assert 'value="in_repair" selected' in html  # the default next status of a failed PC
    response = client.post(asset_url("SEM-00001", "fleet:asset-replace"),
                           {"replacement": "SEM-00021", "next_status": "retired", "reason": "panne",
                            "ticket": "T-9"})
    assert response.status_code == 302 and response["Location"] == asset_url("SEM-00021")
    old, new = Asset.objects.get(tag="SEM-00001"), Asset.objects.get(pk=at_school.pk)
    assert old.status == Status.RETIRED and old.site == fleet.depot and old.school is None
    assert new.status == Status.DEPLOYED and new.school_class == fleet.class1
    assert Slot.objects.get(pk=fleet.slot_pc1.pk).asset == new
    assert AssetEvent.objects.filter(asset=old, kind="replaced", other_asset=new, ticket="T-9").exists()
    html = client.get(asset_url("SEM-00021")).content.decode()
    assert "remplace" in html and 'href="/parc/appareils/SEM-00001/"' in html
    assert Asset.objects.get(pk=at_depot.pk).status == Status.IN_STOCK


def test_replace_refused_shows_why_and_changes_nothing(login, cast, fleet):
    client = login(cast.technician)
    before = events(fleet.pc1)
    response = client.post(asset_url("SEM-00001", "fleet:asset-replace"),
                           {"replacement": "SEM-00005", "next_status": "in_repair"})
    assert response.status_code == 400
    assert "Le remplaçant doit être de catégorie « PC fixe »" in response.content.decode()
    response = client.post(asset_url("SEM-00001", "fleet:asset-replace"),
                           {"replacement": "SEM-99999", "next_status": "in_repair"})
    assert response.status_code == 400 and "Aucun appareil « SEM-99999 »" in response.content.decode()
    fleet.pc1.refresh_from_db()
    assert fleet.pc1.status == Status.DEPLOYED and events(fleet.pc1) == before
    assert Asset.objects.get(tag="SEM-00005").status == Status.IN_STOCK


def test_edit_descriptive_fields(login, cast, fleet):
    client = login(cast.technician)
    url = asset_url("SEM-00001", "fleet:asset-edit")
    assert client.get(url).status_code == 200
    data = {"serial": "CZC1111", "origin": "purchased", "purchased_on": "2015-09-01", "notes": "clavier neuf",
            "cpu_64bit": "unknown", "netboot": "unknown", "reason": "visite"}
    response = client.post(url, data)
    assert response.status_code == 302
    pc1 = Asset.objects.get(tag="SEM-00001")
    assert pc1.notes == "clavier neuf"
    event = AssetEvent.objects.filter(asset=pc1, kind="edited").get()
    assert event.details == {"fields": ["notes"]} and event.reason == "visite"
    response = client.post(url, data | {"serial": "CZC4444"})  # pc_b's serial
    assert response.status_code == 400
    assert Asset.objects.get(tag="SEM-00001").serial == "CZC1111"


# --------------------------------------------------------------------------- filters and exports


def test_filters_of_the_list(login, cast, fleet):
    client = login(cast.admin)
    html = client.get(reverse("fleet:assets") + "?status=in_stock").content.decode()
    assert "SEM-00005" in html and "SEM-00001" not in html and "1 appareil" in html
    html = client.get(reverse("fleet:assets") + "?school=0429902K").content.decode()
    assert "SEM-00004" in html and "SEM-00001" not in html
    html = client.get(reverse("fleet:assets") + "?age_min=15").content.decode()
    assert "SEM-00006" in html and "SEM-00003" not in html
    html = client.get(reverse("fleet:assets") + "?q=epson").content.decode()
    assert "SEM-00002" in html and "SEM-00001" not in html


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_csv_export_follows_the_scope_and_the_filters(login, cast, fleet):
    rows = _csv(login(cast.teacher_sa1).get(reverse("fleet:assets-export", args=["csv"])))
    assert rows[0][:5] == ["Numéro d'inventaire", "Catégorie", "Fabricant", "Modèle", "Statut"]
    assert sorted(r[0] for r in rows[1:]) == ["SEM-00001", "SEM-00002", "SEM-00003", "SEM-00006"]
    pc1 = next(r for r in rows if r[0] == "SEM-00001")
    header = rows[0]
    assert pc1[header.index("Catégorie")] == "PC fixe" and pc1[header.index("Statut")] == "déployé"
    assert pc1[header.index("UAI")] == "0429901J" and pc1[header.index("Classe")] == "Classe 1"
    assert pc1[header.index("Date d'achat")] == "2015-09-01" and pc1[header.index("Numéro de série")] == "CZC1111"
    assert pc1[header.index("Âge (ans)")] == str(views_assets.age_years(date(2015, 9, 1)))
    rows = _csv(login(cast.admin).get(reverse("fleet:assets-export", args=["csv"]) + "?category=projector"))
    assert [r[0] for r in rows[1:]] == ["SEM-00002"]


def test_xlsx_export_and_its_limit(login, cast, fleet, monkeypatch):
    client = login(cast.admin)
    response = client.get(reverse("fleet:assets-export", args=["xlsx"]) + "?status=deployed")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    tags = sorted(row[0] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert tags == ["SEM-00001", "SEM-00002", "SEM-00003", "SEM-00004", "SEM-00006"]
    monkeypatch.setattr(views_assets, "XLSX_MAX_ROWS", 3)
    response = client.get(reverse("fleet:assets-export", args=["xlsx"]))
    assert response.status_code == 400 and "export CSV" in response.content.decode()
    assert client.get(reverse("fleet:assets-export", args=["pdf"])).status_code == 404


# --------------------------------------------------------------------------- size


def _many_assets(fleet, n=400):
    Asset.objects.bulk_create([
        Asset(tag=f"BULK-{i:05d}", serial=f"B{i:05d}", model=fleet.optiplex if i % 2 else fleet.tc_model,
              category=Category.DESKTOP if i % 2 else Category.THIN_CLIENT,
              status=Status.IN_STOCK if i % 3 else Status.FAILED, site=fleet.depot if i % 3 else None,
              school=None if i % 3 else fleet.pc1.school, purchased_on=date(2010 + i % 15, 1, 1))
        for i in range(n)])


def test_list_stock_and_page_use_a_bounded_number_of_queries(login, cast, fleet, django_assert_max_num_queries):
    _many_assets(fleet)
    for i in range(60):
        services.do_update_asset(cast.admin, fleet.pc1, f"note {i}", notes=f"n{i}")
    client = login(cast.admin)
    # session, user, count, page, the filter form's models and sites (+2 of margin for the navigation)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("fleet:assets"))
    assert "406 appareils" in response.content.decode()
    with django_assert_max_num_queries(8):
        client.get(reverse("fleet:assets") + "?status=failed&page=2")
    with django_assert_max_num_queries(10):
        response = client.get(asset_url("SEM-00001"))
    assert response.content.decode().count("note ") >= 60
    with django_assert_max_num_queries(8):
        response = client.get(reverse("fleet:stock"))
    assert response.status_code == 200
    with django_assert_max_num_queries(7):
        response = client.get(asset_url("SEM-00001", "fleet:asset-replace"))
    assert "BULK-00001" in response.content.decode()


def test_count_is_capped(login, cast, fleet, monkeypatch):
    _many_assets(fleet, 30)
    monkeypatch.setattr(views_assets.CappedPaginator, "cap", 20)
    html = login(cast.admin).get(reverse("fleet:assets")).content.decode()
    assert "plus de 20 appareils" in html and "36 appareils" not in html
    assert "Plus de 20 résultats : seules les 1 premières pages" in html
    html = login(cast.admin).get(reverse("fleet:assets") + "?status=deployed").content.decode()
    assert "5 appareils" in html
