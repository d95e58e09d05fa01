"""Importers on the real open data of ../shared/data/territory: counts, idempotence, audit, fibre."""

import json

import pytest
from django.core.management import call_command

from preau.core.models import AuditEntry
from preau.territory.importers import (
    ImportFailed,
    import_boundaries,
    import_fibre,
    import_schools,
    import_territory,
)
from preau.territory.models import (
    Access,
    Commune,
    Connectivity,
    ConnectivitySource,
    Epci,
    FibreNetwork,
    School,
    Sector,
    Stratum,
)

SEM = "244200770"


@pytest.fixture(autouse=True, scope="module")
def _parse_json_once():
    """epci.json and communes.json (12 MB) are parsed once for this module: the importer does not mutate them."""
    from preau.territory.importers import territory

    original, cache = territory._load_json, {}

    def cached(path, name, max_bytes, what):
        key = (str(path), name, max_bytes, what)
        if key not in cache:
            cache[key] = original(path, name, max_bytes, what)
        return cache[key]

    territory._load_json = cached
    yield
    territory._load_json = original


def _territory(data):
    t = data / "territory"
    return import_territory(SEM, t / "epci.json", t / "communes.json")


@pytest.fixture
def sem(db, shared_data):
    """Saint-Étienne Métropole: its 53 communes, the 254 écoles of the Loire CSV, ARCEP fibre."""
    t = shared_data / "territory"
    reports = [_territory(shared_data)]
    reports += import_schools([t / "ecoles_loire42_from_ips-map.csv"])
    reports.append(import_fibre(t / "arcep_ftth_communes_loire42_2018T1.csv"))
    return reports


def test_acceptance_counts(sem):
    territory, schools, fibre = sem
    assert (territory.created, territory.updated, territory.unchanged) == (53, 0, 0)
    assert Commune.objects.count() == 53
    epci = Epci.objects.get()
    assert (epci.siren, epci.name, epci.kind) == (SEM, "Saint-Étienne Métropole", "ME")
    assert epci.communes.count() == 53
    assert "EPCI « Saint-Étienne Métropole » créé" in territory.notes

    assert (schools.kind, schools.created, schools.rejected) == ("loire", 254, 0)
    assert schools.skipped == 577 - 254
    assert "323 établissement(s) hors des communes importées ignoré(s)" in schools.notes
    assert School.objects.count() == 254
    assert School.objects.filter(sector=Sector.PUBLIC).count() == 196
    assert School.objects.filter(sector=Sector.PRIVATE).count() == 58

    assert (fibre.updated, fibre.skipped) == (53, 326 - 53)
    assert Connectivity.objects.count() == 254


def test_commune_data_from_communes_json(sem):
    se = Commune.objects.get(insee="42218")
    assert se.name == "Saint-Étienne" and se.department == "42"
    assert se.population > 150000 and se.stratum == Stratum.CITY
    assert se.siren == "214202186"
    assert "42000" in se.postal_codes and "42100" in se.postal_codes
    assert se.fibre_network == FibreNetwork.ZTD and se.fibre_period == "T1 2018"
    assert se.fibre_housing and se.fibre_premises
    aboen = Commune.objects.get(insee="42001")
    assert aboen.fibre_network == FibreNetwork.RIP and aboen.fibre_operator == "THD4"
    assert (aboen.fibre_premises, aboen.fibre_housing) == (269, 244)
    caloire = Commune.objects.get(insee="42031")  # Orange commitment, nothing built yet
    assert caloire.fibre_network == FibreNetwork.AMII and caloire.fibre_premises == 0


def test_school_fields_from_loire_csv(sem):
    s = School.objects.get(uai="0420146F")
    assert s.name == "Ecole primaire Alphonse Daudet"
    assert (s.kind, s.sector, s.postal_code, s.commune.insee) == ("primaire", "public", "42320", "42032")
    assert str(s.ips) == "124.6" and s.source == "loire"
    assert abs(s.lat - 45.518076) < 1e-5
    assert School.objects.get(uai="0420172J").kind == "maternelle"
    assert School.objects.get(uai="0420166C").kind == "elementaire"


def test_rerun_creates_nothing(sem, shared_data):
    t = shared_data / "territory"
    audit_before = AuditEntry.objects.count()
    territory = _territory(shared_data)
    (schools,) = import_schools([t / "ecoles_loire42_from_ips-map.csv"])
    fibre = import_fibre(t / "arcep_ftth_communes_loire42_2018T1.csv")
    assert (territory.created, territory.updated, territory.unchanged) == (0, 0, 53)
    assert (schools.created, schools.updated, schools.unchanged) == (0, 0, 254)
    assert (fibre.created, fibre.updated, fibre.unchanged) == (0, 0, 53)
    assert "connectivité des écoles : 0 créée(s), 0 mise(s) à jour, 254 inchangée(s)" in fibre.notes
    assert AuditEntry.objects.count() == audit_before
    assert (Commune.objects.count(), School.objects.count(), Connectivity.objects.count()) == (53, 254, 254)


def test_every_created_object_is_audited(sem):
    imports = AuditEntry.objects.filter(action=AuditEntry.Action.IMPORT)
    assert imports.filter(object_type="territory.commune", before__isnull=True).count() == 53
    assert imports.filter(object_type="territory.epci").count() == 1
    assert imports.filter(object_type="territory.school").count() == 254
    assert imports.filter(object_type="territory.connectivity").count() == 254
    # Fibre updated the 53 communes: before/after of the changed fields only.
    e = imports.filter(object_type="territory.commune", before__isnull=False,
                       object_id=str(Commune.objects.get(insee="42001").pk)).get()
    assert e.before["fibre_network"] == "" and e.after["fibre_network"] == "rip"
    assert "name" not in e.after
    assert e.note == "import arcep_ftth_communes_loire42_2018T1.csv"
    s = School.objects.get(uai="0420146F")
    created = imports.get(object_type="territory.school", object_id=str(s.pk))
    assert created.after["uai"] == "0420146F" and created.after["sector"] == "public"


def test_update_reports_changed_fields(sem, shared_data):
    School.objects.filter(uai="0420146F").update(name="Ancien nom", postal_code="42000")
    (report,) = import_schools([shared_data / "territory" / "ecoles_loire42_from_ips-map.csv"])
    assert (report.created, report.updated, report.unchanged) == (0, 1, 253)
    e = AuditEntry.objects.filter(object_type="territory.school", before__isnull=False).latest("id")
    assert e.before == {"name": "Ancien nom", "postal_code": "42000"}
    assert e.after == {"name": "Ecole primaire Alphonse Daudet", "postal_code": "42320"}


def test_fibre_connectivity_defaults_and_manual_kept(sem, shared_data):
    se_school = School.objects.filter(commune__insee="42218").first()
    conn = se_school.connectivity
    assert (conn.access, conn.network, conn.source) == (Access.FIBRE, FibreNetwork.ZTD, ConnectivitySource.ARCEP)
    caloire = School.objects.filter(commune__insee="42031").first()
    if caloire:  # no connectable premises: access unknown, network from the commune
        assert (caloire.connectivity.access, caloire.connectivity.network) == ("", FibreNetwork.AMII)
    Connectivity.objects.filter(pk=se_school.pk).update(access=Access.ADSL, source=ConnectivitySource.MANUAL)
    other = School.objects.filter(commune__insee="42218").exclude(pk=se_school.pk).first()
    Connectivity.objects.filter(pk=other.pk).update(access=Access.SATELLITE, source=ConnectivitySource.DEMO)
    report = import_fibre(shared_data / "territory" / "arcep_ftth_communes_loire42_2018T1.csv")
    assert "1 saisie(s) à la main conservée(s)" in report.notes[-1]
    assert "1 mise(s) à jour" in report.notes[-1]
    se_school.connectivity.refresh_from_db()
    assert se_school.connectivity.access == Access.ADSL  # manual: never overwritten
    assert Connectivity.objects.get(pk=other.pk).access == Access.FIBRE  # demo: replaced


def test_national_fibre_file_title_lines(sem, shared_data):
    report = import_fibre(shared_data / "territory" / "ftthCommunes.csv")
    assert report.rejected == 0 and report.skipped > 30000
    assert (report.updated, report.unchanged) == (0, 53)  # same T1 2018 figures as the extract
    assert any("fichier national" in n for n in report.notes)


def test_boundaries(sem, shared_data):
    report = import_boundaries(shared_data / "territory" / "communes-42-loire.geojson")
    assert report.updated == 53 and report.skipped > 200
    se = Commune.objects.get(insee="42218")
    assert se.boundary["type"] in ("Polygon", "MultiPolygon")
    assert 45.3 < se.lat < 45.55 and 4.25 < se.lon < 4.5
    again = import_boundaries(shared_data / "territory" / "communes-42-loire.geojson")
    assert (again.updated, again.unchanged) == (0, 53)
    e = AuditEntry.objects.filter(object_type="territory.commune", object_id=str(se.pk)).latest("id")
    assert "octets" in e.after["boundary"]  # the audit keeps a summary, not the geometry


def test_include_all_unknown_commune_is_error(sem, shared_data):
    before = (School.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ImportFailed) as exc:
        import_schools([shared_data / "territory" / "ecoles_loire42_from_ips-map.csv"], include_all=True)
    assert len(exc.value.errors) == 323
    first = exc.value.errors[0]
    assert (first.file, first.column) == ("ecoles_loire42_from_ips-map.csv", "code_insee")
    assert first.line == 2 and "inconnue de la base" in first.message
    assert "… et 303 autre(s) erreur(s)." in str(exc.value)
    assert (School.objects.count(), AuditEntry.objects.count()) == before


def test_territory_cli_and_rerun(db, shared_data, capsys):
    t = shared_data / "territory"
    args = ["--epci", SEM, "--epcis", str(t / "epci.json"), "--communes", str(t / "communes.json")]
    call_command("import_territory", *args)
    out = capsys.readouterr().out
    assert "communes.json (communes) : 53 créé(s)" in out
    call_command("import_territory", *args)
    assert "0 créé(s), 0 modifié(s), 53 inchangé(s)" in capsys.readouterr().out


def test_territory_completes_existing_communes(db, shared_data):
    epci = Epci.objects.create(siren=SEM, name="SEM", kind="ME")
    Commune.objects.create(insee="42218", name="St-Étienne", epci=epci, fibre_network=FibreNetwork.AMII)
    Commune.objects.create(insee="42207", name="Saint-Chamond", epci=epci)
    Commune.objects.create(insee="42999", name="Ancienne commune", epci=epci)  # no longer a member
    report = _territory(shared_data)
    assert (report.created, report.updated) == (51, 3)
    assert any("ne sont plus membres" in n for n in report.notes)
    se = Commune.objects.get(insee="42218")
    assert se.name == "Saint-Étienne" and se.siren == "214202186"
    assert se.fibre_network == FibreNetwork.AMII  # fibre fields untouched
    assert Commune.objects.get(insee="42999").epci is None
    assert Epci.objects.get().name == "Saint-Étienne Métropole"


def test_territory_unknown_epci(db, shared_data):
    with pytest.raises(ImportFailed) as exc:
        import_territory("123456789", shared_data / "territory" / "epci.json",
                         shared_data / "territory" / "communes.json")
    assert "EPCI « 123456789 » absent du fichier" in str(exc.value)
    assert not Epci.objects.exists() and not Commune.objects.exists()


def test_territory_files_swapped(db, shared_data):
    t = shared_data / "territory"
    with pytest.raises(ImportFailed) as exc:
        import_territory(SEM, t / "communes.json", t / "epci.json")
    assert "epci.json d'Etalab attendu" in str(exc.value)


def test_territory_bad_insee_in_json(db, tmp_path, shared_data):
    communes = [{"code": "42218", "nom": "Saint-Étienne", "type": "commune-actuelle", "population": 172000},
                {"code": "4X999", "nom": "Nulle part", "type": "commune-actuelle"}]
    (tmp_path / "communes.json").write_text(json.dumps(communes))
    with pytest.raises(ImportFailed) as exc:
        import_territory(None, None, tmp_path / "communes.json")
    err = exc.value.errors[0]
    assert (err.file, err.column) == ("communes.json", "code") and "4X999" in err.message
    assert not Commune.objects.exists()


def test_ips_national_first_rows(db, shared_data, tmp_path):
    """The DEPP national file: its first rows (the whole file is in bench/import_national.py)."""
    lines = (shared_data / "territory" / "fr-en-ips_ecoles.csv").read_text(encoding="utf-8").splitlines()[:201]
    path = tmp_path / "fr-en-ips_ecoles.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    codes = {line.split(";")[6] for line in lines[1:]}
    Commune.objects.bulk_create([Commune(insee=c, name=c) for c in codes])
    (report,) = import_schools([path], include_all=True)
    assert (report.kind, report.created, report.rejected) == ("ips", 200, 0)
    s = School.objects.get(uai="0352443R")
    assert (s.sector, s.kind, str(s.ips), s.source) == ("private", "primaire", "115.7", "ips")
    (again,) = import_schools([path], include_all=True)
    assert (again.created, again.unchanged) == (0, 200)


def test_sem_former_codes(sem):
    """Communes nouvelles of Saint-Étienne Métropole: anciensCodes and communes déléguées of communes.json."""
    codes = dict(Commune.objects.exclude(former_codes="").values_list("insee", "former_codes"))
    assert codes["42218"] == "42190 42292 42309"  # Saint-Étienne (Rochetaillée, Saint-Victor, Terrenoire)
    assert codes["42207"] == "42111 42244 42258"  # Saint-Chamond
    assert codes["42225"] == "42080"  # Genilac (La Cula)


def test_ips_schools_of_a_merged_commune(db, shared_data, tmp_path):
    """Mauges Communauté: 15 écoles of the DEPP file still carry 49069, now part of Orée d'Anjou (49126)."""
    t = shared_data / "territory"
    import_territory("200060010", t / "epci.json", t / "communes.json")
    oree = Commune.objects.get(insee="49126")
    assert "49069" in oree.former_codes.split()
    lines = (t / "fr-en-ips_ecoles.csv").read_text(encoding="utf-8").splitlines()
    codes = set(Commune.objects.values_list("insee", flat=True))
    codes.update(c for fc in Commune.objects.values_list("former_codes", flat=True) for c in fc.split())
    path = tmp_path / "fr-en-ips_ecoles.csv"
    path.write_text("\n".join([lines[0], *(ln for ln in lines[1:] if ln.split(";")[6] in codes)]) + "\n",
                    encoding="utf-8")
    (report,) = import_schools([path])
    assert (report.created, report.skipped, report.rejected) == (93, 0, 0)
    assert "15 école(s) rattachée(s) à leur commune nouvelle (ancien code INSEE)" in report.notes
    assert oree.schools.count() >= 15
    (again,) = import_schools([path])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 93)
