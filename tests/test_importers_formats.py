"""The three official Education formats (samples in ../shared/data/formats/) and the class distribution."""

import pytest

from preau.core.models import AuditEntry
from preau.territory.importers import import_schools
from preau.territory.importers.fibre import network_for
from preau.territory.importers.schools import apportion, category_of, distribute_classes, kind_from
from preau.territory.models import Circonscription, Commune, School, SchoolClass

ANNUAIRE = "fr-en-annuaire-education.sample.csv"
GEOLOC = "fr-en-adresse-et-geolocalisation-etablissements-premier-et-second-degre.sample.csv"
EFFECTIFS = "fr-en-ecoles-effectifs-nb_classes.sample.csv"


@pytest.fixture
def communes(db):
    for insee, name in [("42218", "Saint-Étienne"), ("42207", "Saint-Chamond"), ("42044", "Le Chambon-Feugerolles")]:
        Commune.objects.create(insee=insee, name=name, department="42")


@pytest.fixture
def formats(shared_data):
    return shared_data / "formats"


def test_annuaire_sample(communes, formats):
    (report,) = import_schools([formats / ANNUAIRE])
    assert (report.kind, report.created, report.skipped, report.rejected) == ("annuaire", 3, 1, 0)
    assert any("collège" in n for n in report.notes)
    tilleuls = School.objects.get(uai="0429901J")
    assert (tilleuls.kind, tilleuls.sector, tilleuls.contract) == ("primaire", "public", "")
    assert (tilleuls.pupils, tilleuls.address, tilleuls.postal_code) == (212, "3 rue des Tilleuls", "42100")
    assert tilleuls.circonscription.name == "Circonscription de Saint-Etienne Centre"
    assert str(tilleuls.opened_on) == "1970-09-01" and tilleuls.lat == 45.4391
    assert School.objects.get(uai="0429902K").kind == "maternelle"
    marie = School.objects.get(uai="0429903L")
    assert (marie.sector, marie.contract, marie.circonscription) == ("private", "association", None)
    assert Circonscription.objects.count() == 2
    assert AuditEntry.objects.filter(object_type="territory.circonscription").count() == 2
    (again,) = import_schools([formats / ANNUAIRE])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


def test_annuaire_secondary_kept_on_request(communes, formats):
    (report,) = import_schools([formats / ANNUAIRE], include_secondary=True)
    assert (report.created, report.skipped) == (4, 0)
    assert School.objects.filter(uai="0429904M", name="Collège Jules Verne").exists()


def test_geoloc_sample(communes, formats):
    (report,) = import_schools([formats / GEOLOC])
    assert (report.kind, report.created) == ("geoloc", 2)
    pre = School.objects.get(uai="0429902K")
    assert (pre.name, pre.kind, pre.postal_code) == ("Ecole maternelle publique Le Pré", "maternelle", "42400")
    assert (pre.lat, pre.lon, pre.commune.insee) == (45.4756, 4.5148, "42207")


def test_effectifs_sample_creates_classes(communes, formats):
    reports = import_schools([formats / ANNUAIRE, formats / EFFECTIFS])
    classes = reports[1]
    assert (classes.kind, classes.created, classes.rejected) == ("effectifs", 19, 0)
    counts = {uai: SchoolClass.objects.filter(school__uai=uai, year=2025).count()
              for uai in ("0429901J", "0429902K", "0429903L")}
    assert counts == {"0429901J": 9, "0429902K": 4, "0429903L": 6}
    levels = list(SchoolClass.objects.filter(school__uai="0429901J").order_by("id").values_list("level", flat=True))
    assert levels == ["PS", "MS", "GS", "CP", "CP", "CE1", "CE2", "CM1", "CM2"]
    assert sum(SchoolClass.objects.filter(school__uai="0429901J").values_list("pupils", flat=True)) == 212
    marie = list(SchoolClass.objects.filter(school__uai="0429903L").order_by("id").values_list("name", "level"))
    assert marie[0] == ("Classe 1", "MAT") and marie[-1] == ("Classe 6", "ULIS")
    assert AuditEntry.objects.filter(object_type="territory.schoolclass").count() == 19
    (again,) = import_schools([formats / EFFECTIFS])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 19)


def test_effectifs_reimport_updates_and_removes_extra_classes(communes, formats, tmp_path):
    import_schools([formats / ANNUAIRE, formats / EFFECTIFS])
    SchoolClass.objects.create(school=School.objects.get(uai="0429901J"), year=2025, name="CP bilingue",
                               level="CP", pupils=12)
    text = (formats / EFFECTIFS).read_text(encoding="utf-8-sig")
    text = text.replace("0429901J;ECOLE PRIMAIRE PUBLIQUE;DES TILLEULS;PUBLIC;0;0;9;212;70;142",
                        "0429901J;ECOLE PRIMAIRE PUBLIQUE;DES TILLEULS;PUBLIC;0;0;7;190;48;142")
    changed = tmp_path / "effectifs.csv"
    changed.write_text(text, encoding="utf-8")
    (report,) = import_schools([changed])
    assert "2 classe(s) en trop supprimée(s)" in report.notes
    tilleuls = School.objects.get(uai="0429901J")
    names = set(tilleuls.classes.filter(year=2025).values_list("name", flat=True))
    assert names == {f"Classe {k}" for k in range(1, 8)} | {"CP bilingue"}  # hand-made class kept
    assert tilleuls.pupils == 190
    assert AuditEntry.objects.filter(object_type="territory.schoolclass", action="delete").count() == 2


def test_effectifs_unknown_school_skipped_or_error(communes, formats):
    (report,) = import_schools([formats / EFFECTIFS])
    assert (report.created, report.skipped) == (0, 3)
    assert "absente(s) de la base" in report.notes[0]
    from preau.territory.importers import ImportFailed

    with pytest.raises(ImportFailed) as exc:
        import_schools([formats / EFFECTIFS], include_all=True)
    assert exc.value.errors[0].column == "Numéro de l'école" and exc.value.errors[0].line == 2


def test_three_formats_together_then_rerun(communes, formats):
    paths = [formats / ANNUAIRE, formats / GEOLOC, formats / EFFECTIFS]
    import_schools(paths)
    audit = AuditEntry.objects.count()
    reports = import_schools(paths)
    assert [r.created + r.updated for r in reports] == [0, 0, 0]
    assert AuditEntry.objects.count() == audit


def test_formats_on_the_cast(cast, formats):
    """The samples use the cast's UAIs: they update it, never duplicate it."""
    reports = import_schools([formats / ANNUAIRE, formats / EFFECTIFS])
    assert reports[0].created == 0 and reports[0].updated == 3
    assert School.objects.count() == 3
    cast.sa1.refresh_from_db()
    assert cast.sa1.name == "Ecole primaire publique des Tilleuls" and cast.sa1.pupils == 212
    # The cast's classes of 2026 are another year: untouched.
    assert cast.sa1.classes.filter(year=2026).count() == 3
    assert cast.sa1.classes.filter(year=2025).count() == 9


def test_closed_school(communes, formats, tmp_path):
    import_schools([formats / ANNUAIRE])
    text = (formats / ANNUAIRE).read_text(encoding="utf-8-sig")
    text = text.replace("1982-09-01;2026-05-27;OUVERT", "1982-09-01;2026-07-01;FERME")
    path = tmp_path / "annuaire.csv"
    path.write_text(text, encoding="utf-8")
    (report,) = import_schools([path])
    assert (report.closed, report.updated, report.unchanged) == (1, 0, 2)
    assert str(School.objects.get(uai="0429902K").closed_on) == "2026-07-01"
    (again,) = import_schools([path])
    assert (again.closed, again.unchanged) == (0, 3)
    (reopened,) = import_schools([formats / ANNUAIRE])
    assert reopened.updated == 1 and School.objects.get(uai="0429902K").closed_on is None


@pytest.mark.parametrize("args, kind", [
    ({"name": "Ecole maternelle Jaurès"}, "maternelle"),
    ({"name": "ECOLE ELEMENTAIRE PUBLIQUE VICTOR HUGO"}, "elementaire"),
    ({"name": "Ecole éléméntaire La Clé"}, "elementaire"),
    ({"name": "Groupe scolaire Jules Verne"}, "primaire"),
    ({"name": "Ecole", "hint": "maternelle"}, "maternelle"),
    ({"name": "Ecole", "mat": "1", "ele": "0"}, "maternelle"),
    ({"name": "Ecole maternelle", "mat": "1", "ele": "1"}, "primaire"),
    ({"name": "Les Petits", "nature": "101"}, "maternelle"),
    ({"name": "Ecole Saint-Joseph"}, "primaire"),
    ({"name": "Ecole Saint-Joseph", "hint": "autre/indetermine", "default": None}, None),
])
def test_kind_from(args, kind):
    assert kind_from(**args) == kind


def test_vague_name_keeps_the_stored_kind(communes, tmp_path):
    header = "UAI;Nom de l'établissment;Code INSEE de la commune;Secteur;IPS"
    path = tmp_path / "ips.csv"
    path.write_text(f"{header}\n0429902K;ECOLE PUBLIQUE LE PRE;42207;public;96.1\n", encoding="utf-8")
    School.objects.create(uai="0429902K", name="Le Pré", kind="maternelle", commune=Commune.objects.get(insee="42207"))
    (report,) = import_schools([path])
    assert report.updated == 1
    assert School.objects.get(uai="0429902K").kind == "maternelle"


def test_category_of():
    assert category_of(nature="151") == "ecole"
    assert category_of(nature="340") == "secondary"
    assert category_of(nature="800") == "other"
    assert category_of(type_label="Lycée") == "secondary"
    assert category_of(type_label="Service Administratif") == "other"
    assert category_of(name="COLLEGE JEAN MOULIN") == "secondary"
    assert category_of(name="Ecole du Lycée") == "ecole"


def test_apportion_and_distribution():
    assert apportion(6, [30, 28, 29, 27, 28]) == [2, 1, 1, 1, 1]
    assert apportion(3, [1, 2, 0, 0]) == [1, 2, 0, 0]
    assert apportion(2, [5, 5, 5]) is None
    assert [lv for lv, _ in distribute_classes(1, 10, 8, 0, [2, 2, 2, 1, 1])] == ["MAT"]
    assert [lv for lv, _ in distribute_classes(3, 0, 60, 0, [12, 12, 12, 12, 12])] == ["ELE"] * 3
    plan = distribute_classes(5, 0, 0, 0, [0] * 5, kind="maternelle")
    assert [lv for lv, _ in plan] == ["PS", "PS", "MS", "MS", "GS"]
    assert distribute_classes(0, 10, 10, 0, [2] * 5) == []
    assert sum(p for _, p in distribute_classes(4, 30, 70, 8, [14] * 5)) == 108


def test_network_for():
    assert network_for("1", "-", "-", "FRTE") == "ztd"
    assert network_for("-", "-", "-", "THD4") == "rip"
    assert network_for("-", "FRTE", "-", "FRTE-THD4") == "rip"
    assert network_for("-", "FRTE", "-", "") == "amii"
    assert network_for("-", "-", "SFR", "") == "amii"
    assert network_for("-", "-", "-", "") == "none"


def test_skipped_rows_are_not_validated(communes, formats, tmp_path):
    """A collège with a bad UAI is skipped, not rejected, unless collèges are asked for."""
    text = (formats / ANNUAIRE).read_text(encoding="utf-8-sig").replace("0429904M", "0429904X")
    path = tmp_path / "annuaire.csv"
    path.write_text(text, encoding="utf-8")
    (report,) = import_schools([path])
    assert (report.created, report.skipped, report.rejected) == (3, 1, 0)
    from preau.territory.importers import ImportFailed

    with pytest.raises(ImportFailed) as exc:
        import_schools([path], include_secondary=True)
    assert (exc.value.errors[0].line, exc.value.errors[0].column) == (5, "Identifiant_de_l_etablissement")
