"""Communes nouvelles: former INSEE codes from communes.json, schools of a merged commune attached to it."""

import json

import pytest

from preau.core.models import AuditEntry
from preau.territory.codes import uai_check_letter
from preau.territory.importers import ImportFailed, import_schools, import_territory
from preau.territory.models import Commune, School

IPS_HEADER = ("Rentrée scolaire;Académie;Code du département;Département;UAI;Nom de l'établissment;"
              "Code INSEE de la commune;Nom de la commune;Secteur;IPS")

# A commune nouvelle (49126) made of 49040 (in anciensCodes and délégué), 49069 (délégué only) and
# 49172 (anciensCodes only); 49126 is also a délégué entry of itself (its own code is not a former
# code). 49007 is an ordinary commune, 75056 Paris (arrondissement codes). 55273 is claimed by
# two communes (a split after a merger): ambiguous.
COMMUNES = [
    {"code": "49126", "nom": "Orée d'Anjou", "type": "commune-actuelle", "departement": "49", "population": 16000,
     "anciensCodes": ["49172", "49040"], "codesPostaux": ["49270"], "siren": "200059749"},
    {"code": "49007", "nom": "Angers", "type": "commune-actuelle", "departement": "49", "population": 155000},
    {"code": "75056", "nom": "Paris", "type": "commune-actuelle", "departement": "75", "population": 2100000},
    {"code": "55245", "nom": "Heudicourt-sous-les-Côtes", "type": "commune-actuelle", "departement": "55",
     "anciensCodes": ["55273"]},
    {"code": "55386", "nom": "Nonsard-Lamarche", "type": "commune-actuelle", "departement": "55"},
    {"code": "49126", "nom": "Bouzillé", "type": "commune-deleguee", "chefLieu": "49126"},
    {"code": "49040", "nom": "Champtoceaux", "type": "commune-deleguee", "chefLieu": "49126"},
    {"code": "49069", "nom": "Drain", "type": "commune-deleguee", "chefLieu": "49126"},
    {"code": "55273", "nom": "Lamarche-en-Woëvre", "type": "commune-associee", "chefLieu": "55386"},
    {"code": "75112", "nom": "Paris 12e Arrondissement", "type": "arrondissement-municipal", "commune": "75056"},
]
EPCIS = [
    {"code": "200060010", "nom": "CA Mauges Communauté", "type": "CA", "populationTotale": 120000,
     "membres": [{"code": "49126", "nom": "Orée d'Anjou"}]},
]


def uai(n: int) -> str:
    digits = f"{4900000 + n:07d}"
    return digits + uai_check_letter(digits)


def school_file(tmp_path, codes: list[str], name="fr-en-ips_ecoles.csv"):
    lines = [IPS_HEADER] + [f"2021-2022;NANTES;049;MAINE-ET-LOIRE;{uai(i)};ECOLE PRIMAIRE PUBLIQUE N{i};{code};X;"
                            f"public;{100 + i}" for i, code in enumerate(codes, start=1)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    (tmp_path / "communes.json").write_text(json.dumps(COMMUNES), encoding="utf-8")
    (tmp_path / "epci.json").write_text(json.dumps(EPCIS), encoding="utf-8")
    return tmp_path / "epci.json", tmp_path / "communes.json"


@pytest.fixture
def territory(db, files):
    return import_territory(None, *files)


def test_former_codes_from_anciens_codes_and_delegated_entries(territory):
    assert (territory.created, territory.updated, territory.unchanged) == (5, 0, 0)
    codes = dict(Commune.objects.values_list("insee", "former_codes"))
    assert codes == {"49126": "49040 49069 49172", "49007": "", "75056": "", "55245": "55273", "55386": "55273"}
    assert Commune.objects.get(insee="49126").epci.siren == "200060010"


def test_territory_rerun_unchanged(territory, files):
    audit = AuditEntry.objects.count()
    again = import_territory(None, *files)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert AuditEntry.objects.count() == audit


def test_territory_updates_stale_former_codes(territory, files):
    Commune.objects.filter(insee="49126").update(former_codes="49040")
    Commune.objects.filter(insee="49007").update(former_codes="49999")
    again = import_territory(None, *files)
    assert (again.created, again.updated, again.unchanged) == (0, 2, 3)
    assert Commune.objects.get(insee="49126").former_codes == "49040 49069 49172"
    assert Commune.objects.get(insee="49007").former_codes == ""
    entry = AuditEntry.objects.filter(object_type="territory.commune", before__isnull=False).latest("id")
    assert set(entry.after) == {"former_codes"}


def test_one_epci_fills_former_codes_of_its_members(db, files):
    report = import_territory("200060010", *files)
    assert report.created == 1
    assert Commune.objects.get().former_codes == "49040 49069 49172"


def test_school_with_former_code_lands_in_the_commune_nouvelle(territory, tmp_path):
    path = school_file(tmp_path, ["49040", "49069", "49172", "49126", "49007", "75112", "44109"])
    (report,) = import_schools([path])
    assert (report.kind, report.created, report.rejected, report.skipped) == ("ips", 6, 0, 1)
    assert "3 école(s) rattachée(s) à leur commune nouvelle (ancien code INSEE)" in report.notes
    assert "1 établissement(s) hors des communes importées ignoré(s)" in report.notes
    by_uai = dict(School.objects.values_list("uai", "commune__insee"))
    assert [by_uai[uai(i)] for i in range(1, 7)] == ["49126", "49126", "49126", "49126", "49007", "75056"]

    audit = AuditEntry.objects.count()
    (again,) = import_schools([path])
    assert (again.created, again.updated, again.unchanged, again.skipped) == (0, 0, 6, 1)
    assert "3 école(s) rattachée(s) à leur commune nouvelle (ancien code INSEE)" in again.notes
    assert AuditEntry.objects.count() == audit


def test_include_all_accepts_former_codes(territory, tmp_path):
    (report,) = import_schools([school_file(tmp_path, ["49069", "49126"])], include_all=True)
    assert (report.created, report.rejected) == (2, 0)
    with pytest.raises(ImportFailed) as exc:
        import_schools([school_file(tmp_path, ["49069", "44109"], name="autres.csv")], include_all=True)
    assert len(exc.value.errors) == 1 and "« 44109 » inconnue de la base" in exc.value.errors[0].message


def test_ambiguous_former_code_is_not_resolved(territory, tmp_path):
    (report,) = import_schools([school_file(tmp_path, ["55273", "55386"])])
    assert (report.created, report.skipped) == (1, 1)
    assert not any("commune nouvelle" in n for n in report.notes)


def test_current_code_wins_over_a_former_code(territory, tmp_path):
    """A code that is both a current commune and listed as a former code elsewhere stays with its commune."""
    Commune.objects.filter(insee="49126").update(former_codes="49007 49040")
    (report,) = import_schools([school_file(tmp_path, ["49007"])])
    assert report.created == 1 and not any("commune nouvelle" in n for n in report.notes)
    assert School.objects.get().commune.insee == "49007"
