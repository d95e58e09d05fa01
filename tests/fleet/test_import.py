"""Asset import (CSV and XLSX): created/updated/unchanged counts, idempotence, slots, every bad input named by
file, line and column with nothing written, the web upload job (admin only) and the CLI command."""

from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from preau.core import jobs
from preau.core.models import AuditEntry, Job
from preau.fleet import services
from preau.fleet.importer import import_assets
from preau.fleet.lifecycle import Status
from preau.fleet.models import Asset, AssetEvent, Category, DeviceModel, Origin, Slot
from preau.territory.importers import ImportFailed
from preau.territory.models import SchoolClass, current_school_year

HEADER = ("numéro d'inventaire;numéro de série;catégorie;fabricant;modèle;statut;UAI école;classe;site;"
          "date d'achat;fin de garantie;coût;origine;nom de machine;notes")


@pytest.fixture(autouse=True)
def _classes_of_this_school_year(cast):
    """The import looks classes up in the current school year: keep the cast's classes there whatever the date."""
    SchoolClass.objects.update(year=current_school_year())


@pytest.fixture
def write(tmp_path):
    def _write(name: str, *lines: str, encoding="utf-8") -> str:
        path = tmp_path / name
        path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
        return str(path)

    return _write


def counts() -> tuple[int, int, int, int]:
    return Asset.objects.count(), AssetEvent.objects.count(), AuditEntry.objects.count(), DeviceModel.objects.count()


def failure(path, **kwargs) -> ImportFailed:
    before = counts()
    with pytest.raises(ImportFailed) as exc:
        import_assets(path, **kwargs)
    assert counts() == before, "nothing may be written"
    return exc.value


@pytest.fixture
def good_csv(fleet, cast, write):
    class3 = SchoolClass.objects.get(school=cast.sa1, name="Classe 3")
    Slot.objects.create(school=cast.sa1, school_class=class3, category=Category.DESKTOP, label="PC de la Classe 3")
    return write(
        "parc.csv", HEADER,
        "NEW-001;CZC9001;PC fixe;Dell;OptiPlex 3020;déployé;0429901j;classe 3;;2024-09-01;;549,90 €;;pc-cl3;",
        f"NEW-002;TC9002;client léger;préau;tc-1;en stock;;;{fleet.depot.name};01/09/2025;2030-09-01;349,9;;;",
        "NEW-003;;;Epson;EB-680Wi;;;;;;;;don;;carton abîmé",
        "SEM-00005;;;;;;;;;;;;;;réserve hiver",
        "SEM-00001;CZC1111;;;;;;;;;;;;;",
    )


def test_good_csv_creates_updates_and_counts(fleet, cast, good_csv):
    entries = AuditEntry.objects.count()
    report = import_assets(good_csv, user=cast.technician)
    assert (report.created, report.updated, report.unchanged, report.rejected) == (3, 1, 1, 0)
    new1 = Asset.objects.get(tag="NEW-001")
    assert (new1.category, new1.status, new1.school, new1.school_class.name) == (
        Category.DESKTOP, Status.DEPLOYED, cast.sa1, "Classe 3")
    assert new1.cost == Decimal("549.90") and new1.purchased_on == date(2024, 9, 1) and new1.hostname == "pc-cl3"
    assert Slot.objects.get(label="PC de la Classe 3").asset == new1
    new2 = Asset.objects.get(tag="NEW-002")
    assert new2.model == fleet.tc_model and new2.site == fleet.depot and new2.school is None
    assert new2.purchased_on == date(2025, 9, 1) and new2.warranty_until == date(2030, 9, 1)
    assert new2.cost == Decimal("349.90") and new2.status == Status.IN_STOCK
    new3 = Asset.objects.get(tag="NEW-003")
    assert new3.category == Category.PROJECTOR and new3.origin == Origin.DONATED and new3.site == fleet.depot
    assert new3.notes == "carton abîmé" and new3.serial == ""
    assert Asset.objects.get(tag="SEM-00005").notes == "réserve hiver"
    created = AssetEvent.objects.get(asset=new1)
    assert created.kind == AssetEvent.Kind.CREATED and created.to_status == "deployed" and created.user == cast.technician
    assert created.details["slot"] == "PC de la Classe 3" and "parc.csv" in created.reason
    edited = AssetEvent.objects.filter(asset__tag="SEM-00005").first()
    assert edited.kind == AssetEvent.Kind.EDITED and edited.details["fields"] == ["notes"]
    imported = AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT, object_type="fleet.asset")
    assert AuditEntry.objects.count() - entries == imported.count() == 4
    assert imported.filter(object_id=str(new2.pk), after__tag="NEW-002").exists()
    assert "3 créé(s), 1 modifié(s), 1 inchangé(s)" in report.summary()


def test_reimport_is_idempotent(fleet, cast, good_csv):
    import_assets(good_csv, user=cast.admin)
    before = counts()
    report = import_assets(good_csv, user=cast.admin)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 5)
    assert counts() == before


def test_headers_are_matched_by_normalized_name_and_aliases(fleet, cast, write):
    path = write("alias.csv", "Rapport d'inventaire", "N° d'inventaire,Marque,Référence,État,UAI,Prix,Commentaire",
                 'A-1,DELL,optiplex 3020,en service,0429902k,"1 234,50 €",vu')
    report = import_assets(path, user=cast.admin)
    assert report.created == 1
    a = Asset.objects.get(tag="A-1")
    assert (a.model, a.status, a.school, a.cost, a.notes) == (
        fleet.optiplex, Status.DEPLOYED, cast.sb1, Decimal("1234.50"), "vu")


def test_xlsx_workbook(fleet, cast, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Parc 2026"
    ws.append(["Inventaire du parc, décembre 2026"])  # a title line above the header
    ws.append(["Numéro d'inventaire", "Numéro de série", "Catégorie", "Fabricant", "Modèle", "Statut", "UAI école",
               "Classe", "Date d'achat", "Coût"])
    ws.append([123456, "SN-77", "desktop", "Dell", "OptiPlex 3020", "Déployé", "0429902K", "Classe 1",
               datetime(2023, 9, 4), 612.5])
    ws.append([None] * 10)  # blank rows are skipped
    ws.append(["X-2", None, None, "HP", "Compaq dc7800", "en réparation", None, None, "04/09/2020", 100])
    path = tmp_path / "parc.xlsx"
    wb.save(path)
    report = import_assets(str(path), user=cast.admin)
    assert (report.created, report.updated, report.rejected) == (2, 0, 0)
    assert any("Parc 2026" in n for n in report.notes)
    a = Asset.objects.get(tag="123456")
    assert (a.serial, a.status, a.school_class, a.purchased_on, a.cost) == (
        "SN-77", Status.DEPLOYED, fleet.class_b, date(2023, 9, 4), Decimal("612.50"))
    # Classe 1 of sb1 has a desktop slot, but it is already taken by pc_b: the new PC stays without one.
    assert Slot.objects.get(pk=fleet.slot_pc_b.pk).asset == fleet.pc_b
    b = Asset.objects.get(tag="X-2")
    assert b.status == Status.IN_REPAIR and b.purchased_on == date(2020, 9, 4) and b.model == fleet.dc7800
    assert import_assets(str(path), user=cast.admin).unchanged == 2


def test_xlsx_errors_name_the_file_line_and_column(fleet, cast, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["numéro d'inventaire", "fabricant", "modèle", "date d'achat"])
    ws.append(["Z-1", "Dell", "OptiPlex 3020", "31/02/2024"])
    path = tmp_path / "mauvais.xlsx"
    wb.save(path)
    exc = failure(str(path), user=cast.admin)
    assert "mauvais.xlsx, ligne 2, colonne « date d'achat »" in str(exc)


def test_update_moves_an_asset_out_of_its_class_and_frees_its_slot(fleet, cast, write):
    path = write("retour.csv", "numéro d'inventaire;statut;site", f"SEM-00001;en stock;{fleet.depot.name}")
    report = import_assets(path, user=cast.admin)
    assert report.updated == 1 and any("libéré" in n for n in report.notes)
    pc1 = Asset.objects.get(tag="SEM-00001")
    assert (pc1.status, pc1.site, pc1.school, pc1.school_class) == (Status.IN_STOCK, fleet.depot, None, None)
    assert Slot.objects.get(pk=fleet.slot_pc1.pk).asset is None
    event = pc1.events.first()
    assert (event.kind, event.from_status, event.to_status) == (AssetEvent.Kind.STATUS, "deployed", "in_stock")
    # Put back in its class as deployed: it takes the free slot again.
    path = write("remise.csv", "numéro d'inventaire;statut;UAI école;classe", "SEM-00001;déployé;0429901J;Classe 1")
    import_assets(path, user=cast.admin)
    assert Slot.objects.get(pk=fleet.slot_pc1.pk).asset == pc1


def test_unknown_model_is_created_only_when_asked(fleet, cast, write):
    path = write("neufs.csv", "numéro d'inventaire;catégorie;fabricant;modèle",
                 "N-1;tablette;Apple;iPad 9", "N-2;;apple;IPAD 9", "N-3;PC portable;Lenovo;ThinkPad L13")
    exc = failure(path, user=cast.admin)
    assert "neufs.csv, ligne 2, colonne « modèle » : modèle inconnu « Apple iPad 9 »" in str(exc)
    assert "--create-models" in str(exc) and len(exc.errors) == 3
    report = import_assets(path, user=cast.admin, create_models=True)
    assert report.created == 3 and any("2 modèle(s)" in n for n in report.notes)
    ipad = DeviceModel.objects.get(maker="Apple", name="iPad 9")
    assert ipad.category == Category.TABLET
    assert list(Asset.objects.filter(tag__in=["N-1", "N-2"]).values_list("model", flat=True)) == [ipad.pk, ipad.pk]
    assert AuditEntry.objects.filter(object_type="fleet.devicemodel", object_id=str(ipad.pk)).exists()


def test_creating_a_model_needs_a_category(fleet, cast, write):
    path = write("neufs.csv", "numéro d'inventaire;fabricant;modèle", "N-1;Apple;iPad 9")
    exc = failure(path, user=cast.admin, create_models=True)
    assert "ligne 2, colonne « catégorie »" in str(exc)


def test_dry_run_counts_without_writing(fleet, cast, good_csv):
    before = counts()
    slot_assets = list(Slot.objects.values_list("asset", flat=True))
    report = import_assets(good_csv, user=cast.admin, dry_run=True)
    assert (report.created, report.updated) == (3, 1) and any("simulation" in n for n in report.notes)
    assert counts() == before and list(Slot.objects.values_list("asset", flat=True)) == slot_assets


BAD_ROWS = [
    # (row, expected line/column fragment, words of the message)
    ("B-1;;;Dell;OptiPlex 3020;;0429999X;;;;;;;;", "colonne « UAI école »", "école inconnue"),
    ("B-1;;;Dell;OptiPlex 3020;;0429901J;CM2-Z;;;;;;;", "colonne « classe »", "inconnue dans l'école 0429901J"),
    ("B-1;;;Dell;OptiPlex 3020;;;Classe 1;;;;;;;", "colonne « UAI école »", "sans école"),
    ("B-1;;;Dell;OptiPlex 9999;;;;;;;;;;", "colonne « modèle »", "modèle inconnu"),
    ("B-1;;;Dell;;;;;;;;;;;", "colonne « modèle »", "vont ensemble"),
    ("B-1;;;;;;;;;;;;;;", "colonne « fabricant »", "obligatoires pour un nouvel appareil"),
    ("SEM-00099;CZC1111;;Dell;OptiPlex 3020;;;;;;;;;;", "colonne « numéro de série »", "SEM-00001"),
    ("B-1;;;Dell;OptiPlex 3020;;;;;32/13/2024;;;;;", "colonne « date d'achat »", "32/13/2024"),
    ("B-1;;;Dell;OptiPlex 3020;;;;;2020-01-01;2019-01-01;;;;", "colonne « fin de garantie »", "avant la date"),
    ("B-1;;;Dell;OptiPlex 3020;;;;;2999-01-01;;;;;", "colonne « date d'achat »", "futur"),
    ("B-1;;;Dell;OptiPlex 3020;cassé;;;;;;;;;", "colonne « statut »", "statut inconnu « cassé »"),
    ("B-1;;ordinateur quantique;Dell;OptiPlex 3020;;;;;;;;;;", "colonne « catégorie »", "catégorie inconnue"),
    ("B-1;;;Dell;OptiPlex 3020;;;;Lune;;;;;;", "colonne « site »", "site inconnu « Lune »"),
    ("B-1;;;Dell;OptiPlex 3020;;0429901J;;Envie Loire;;;;;;", "colonne « site »", "pas les deux"),
    ("B-1;;;Dell;OptiPlex 3020;déployé;;;;;;;;;", "colonne « UAI école »", "indiquez son UAI"),
    ("B-1;;;Dell;OptiPlex 3020;;;;;;;douze euros;;;", "colonne « coût »", "douze euros"),
    ("B-1;;;Dell;OptiPlex 3020;;;;;;;;volé;;", "colonne « origine »", "origine inconnue"),
    ("B-1;;;Dell;OptiPlex 3020;;;;;;;;;;;en trop", "16 colonnes au lieu de 15", "séparateur"),
    (f"{'T' * 40};;;Dell;OptiPlex 3020;;;;;;;;;;", "colonne « numéro d'inventaire »", "32 caractères"),
]


@pytest.mark.parametrize(("row", "where", "words"), BAD_ROWS)
def test_bad_rows_are_named_and_nothing_is_written(fleet, cast, write, row, where, words):
    path = write("parc-erreurs.csv", HEADER, "OK-1;;;Dell;OptiPlex 3020;;;;;;;;;;", row)
    exc = failure(path, user=cast.admin)
    text = str(exc)
    assert "parc-erreurs.csv, ligne 3" in text and where in text and words in text, text
    assert "rien n'a été enregistré" in text
    assert not Asset.objects.filter(tag="OK-1").exists()


def test_duplicates_within_the_file(fleet, cast, write):
    path = write("doublons.csv", "numéro d'inventaire;numéro de série;fabricant;modèle",
                 "D-1;S-1;Dell;OptiPlex 3020", "D-2;S-1;Dell;OptiPlex 3020", "D-1;S-3;Dell;OptiPlex 3020")
    exc = failure(path, user=cast.admin)
    text = str(exc)
    assert "ligne 3, colonne « numéro de série » : numéro de série S-1 en double dans le fichier (déjà ligne 2" in text
    assert "ligne 4, colonne « numéro d'inventaire » : numéro d'inventaire D-1 en double" in text
    assert exc.reports[0].rejected == 2


def test_every_error_is_collected(fleet, cast, write):
    path = write("plusieurs.csv", HEADER, "E-1;;;Dell;OptiPlex 3020;cassé;0429999X;;;hier;;;;;",
                 "E-2;;;Dell;OptiPlex 3020;;;;;;;;;;", "E-3;;;Acme;Inconnu;;;;;;;;;;")
    exc = failure(path, user=cast.admin)
    assert [(e.line, e.column) for e in exc.errors] == [
        (2, "statut"), (2, "UAI école"), (2, "date d'achat"), (4, "modèle")]
    assert exc.reports[0].rejected == 2


def test_an_asset_in_a_batch_under_way_keeps_its_status(fleet, cast, write):
    batch = services.do_create_batch(cast.admin, workshop=fleet.envie, assets=[fleet.pc1])
    path = write("lot.csv", "numéro d'inventaire;statut;UAI école", "SEM-00001;en panne;0429901J")
    exc = failure(path, user=cast.admin)
    assert batch.reference in str(exc) and "ligne 2" in str(exc)
    # Descriptive fields may still change.
    path = write("lot2.csv", "numéro d'inventaire;notes", "SEM-00001;étiquette refaite")
    assert import_assets(path, user=cast.admin).updated == 1


@pytest.mark.parametrize(("content", "words"), [
    (b"", "fichier vide"),
    (b"\x00\x01\x02binaire\x00" * 10, "binaire"),
    (b"tag_inconnu;autre\n1;2\n", "format non reconnu"),
    (b"numero de serie;fabricant\nS1;Dell\n", "format non reconnu"),
    (b"PK\x03\x04pas vraiment un classeur", "classeur XLSX illisible"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "97-2003"),
])
def test_malformed_files(fleet, cast, tmp_path, content, words):
    path = tmp_path / "fichier.csv"
    path.write_bytes(content)
    exc = failure(str(path), user=cast.admin)
    assert "fichier.csv" in str(exc) and words in str(exc), str(exc)


def test_size_limit_checked_before_reading(fleet, cast, write):
    path = write("gros.csv", HEADER, *["X;;;Dell;OptiPlex 3020;;;;;;;;;;"] * 50)
    exc = failure(path, user=cast.admin, max_bytes=100)
    assert "trop volumineux" in str(exc)


def test_latin1_file_is_read_with_a_note(fleet, cast, write):
    path = write("excel.csv", "numéro d'inventaire;fabricant;modèle;notes", "L-1;Dell;OptiPlex 3020;écran rayé",
                 encoding="cp1252")
    report = import_assets(path, user=cast.admin)
    assert report.created == 1 and Asset.objects.get(tag="L-1").notes == "écran rayé"
    assert any("Windows-1252" in n for n in report.notes)


def test_a_large_file_runs_a_bounded_number_of_queries(fleet, cast, write):
    rows = [f"P-{i:05d};SN-{i:05d};;Dell;OptiPlex 3020;déployé;0429901J;Classe {1 + i % 3};;2020-09-01;;300;;;"
            for i in range(3000)]
    path = write("gros.csv", HEADER, *rows)
    with CaptureQueriesContext(connection) as ctx:
        report = import_assets(path, user=cast.admin)
    assert report.created == 3000
    assert len(ctx.captured_queries) < 40, len(ctx.captured_queries)
    assert AssetEvent.objects.filter(kind="created", asset__tag__startswith="P-").count() == 3000
    assert AuditEntry.objects.filter(action="import", object_type="fleet.asset").count() == 3000


# ---------------------------------------------------------------- web upload (job) and CLI


def upload(client, name: str, content: bytes, **extra):
    return client.post(reverse("territory:imports"),
                       {"kind": "assets", "files": SimpleUploadedFile(name, content, "text/csv"), **extra})


def test_web_upload_runs_the_fleet_job(fleet, cast, login, monkeypatch, settings, tmp_path):
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    settings.DATA_DIR = tmp_path
    client = login(cast.admin)
    page = client.get(reverse("territory:imports")).content.decode()
    assert "Appareils du parc (CSV/XLSX)" in page and "create_models" in page
    content = "numéro d'inventaire;catégorie;fabricant;modèle\nW-1;tablette;Apple;iPad 9\n".encode()
    response = upload(client, "parc-web.csv", content, create_models="on")
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.kind == "fleet.import" and response["Location"] == reverse("core:job", args=[job.pk])
    job = jobs.run(job.pk)
    assert job.status == "done", job.error
    assert job.result["reports"][0]["created"] == 1 and Asset.objects.get(tag="W-1").model.name == "iPad 9"
    assert AssetEvent.objects.get(asset__tag="W-1").user == cast.admin
    html = client.get(reverse("core:job", args=[job.pk])).content.decode()
    assert "parc-web.csv" in html
    assert not any(tmp_path.glob("uploads/*/*")), "uploaded files are removed after the job"


def test_web_upload_errors_fail_the_job_and_write_nothing(fleet, cast, login, monkeypatch, settings, tmp_path):
    monkeypatch.setenv("PREAU_JOBS_INLINE", "0")
    settings.DATA_DIR = tmp_path
    client = login(cast.admin)
    content = "numéro d'inventaire;fabricant;modèle\nW-1;Apple;iPad 9\n".encode()
    upload(client, "inconnu.csv", content)
    job = jobs.run(Job.objects.get().pk)
    assert job.status == "failed"
    assert "inconnu.csv, ligne 2, colonne « modèle »" in job.error
    assert not Asset.objects.filter(tag="W-1").exists() and not DeviceModel.objects.filter(name="iPad 9").exists()


def test_web_upload_denied_to_a_teacher(fleet, cast, login, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    client = login(cast.teacher_sa1)
    assert client.get(reverse("territory:imports")).status_code == 403
    assert upload(client, "parc.csv", b"numero d'inventaire;fabricant;modele\nW-1;Dell;OptiPlex 3020\n").status_code == 403
    assert Job.objects.count() == 0 and not Asset.objects.filter(tag="W-1").exists()


def test_web_upload_wants_one_file(fleet, cast, login, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    response = login(cast.admin).post(reverse("territory:imports"), {
        "kind": "assets", "files": [SimpleUploadedFile("a.csv", b"x"), SimpleUploadedFile("b.csv", b"y")]})
    assert response.status_code == 400 and Job.objects.count() == 0


def test_the_job_refuses_a_user_who_may_not_manage_the_fleet(fleet, cast, write):
    path = write("parc.csv", "numéro d'inventaire;fabricant;modèle", "J-1;Dell;OptiPlex 3020")
    job = jobs.enqueue("fleet.import", {"path": path, "name": "parc.csv"}, user=cast.director_sa1, start=False)
    job = jobs.run(job.pk)
    assert job.status == "failed" and "Réservé" in job.error
    assert not Asset.objects.filter(tag="J-1").exists()


def test_cli_command(fleet, cast, good_csv, capsys):
    call_command("import_assets", good_csv, "--dry-run", "--no-progress")
    assert "3 créé(s), 1 modifié(s), 1 inchangé(s)" in capsys.readouterr().out
    assert not Asset.objects.filter(tag="NEW-001").exists()
    call_command("import_assets", good_csv, "--no-progress")
    assert "parc.csv (appareils du parc)" in capsys.readouterr().out
    assert Asset.objects.filter(tag__startswith="NEW-").count() == 3
    assert AssetEvent.objects.get(asset__tag="NEW-001").user is None  # the CLI acts as no user


def test_cli_command_errors(fleet, cast, write):
    path = write("neufs.csv", "numéro d'inventaire;catégorie;fabricant;modèle", "C-1;tablette;Apple;iPad 9")
    with pytest.raises(CommandError) as exc:
        call_command("import_assets", path, "--no-progress")
    assert "neufs.csv, ligne 2, colonne « modèle »" in str(exc.value)
    call_command("import_assets", path, "--create-models", "--no-progress")
    assert Asset.objects.get(tag="C-1").model.maker == "Apple"
