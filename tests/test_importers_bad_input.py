"""Bad input: a clear message (file, line, column, what is expected), exit code != 0, nothing written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from preau.core.jobs import Cancelled
from preau.core.models import AuditEntry
from preau.territory.importers import (
    MAX_FILE_BYTES,
    ImportFailed,
    Report,
    RowError,
    base,
    import_boundaries,
    import_fibre,
    import_schools,
    import_territory,
)
from preau.territory.models import Circonscription, Commune, Connectivity, Epci, School, SchoolClass

ROOT = Path(__file__).resolve().parent.parent
HEADER = "uai,nom,niveau_deduit_du_nom,secteur,code_postal,commune,code_insee,rattachement_insee,lat,lon,ips,ips_2021_2022"
GOOD = [
    "0429901J,Ecole primaire des Tilleuls,primaire,Public,42100,Saint-Étienne,42218,nom,45.4391,4.3872,101.5,",
    "0429902K,Ecole maternelle Le Pré,maternelle,Public,42400,Saint-Chamond,42207,nom,45.4756,4.5148,,96.2",
    "0429903L,Ecole Sainte-Marie,primaire,Privé,42230,Saint-Étienne,42218,nom,45.44,4.39,,",
]


def state():
    """Everything an import may write."""
    return (Commune.objects.count(), Epci.objects.count(), School.objects.count(), SchoolClass.objects.count(),
            Circonscription.objects.count(), Connectivity.objects.count(), AuditEntry.objects.count(),
            list(School.objects.order_by("uai").values_list("uai", "name", "pupils")))


@pytest.fixture
def communes(db):
    Commune.objects.create(insee="42218", name="Saint-Étienne", department="42")
    Commune.objects.create(insee="42207", name="Saint-Chamond", department="42")


def write(tmp_path, name, lines, encoding="utf-8", sep=","):
    path = tmp_path / name
    text = "\n".join(line.replace(",", sep) if sep != "," else line for line in lines) + "\n"
    path.write_bytes(text.encode(encoding))
    return path


def fails(call, *args, **kwargs) -> ImportFailed:
    before = state()
    with pytest.raises(ImportFailed) as exc:
        call(*args, **kwargs)
    assert state() == before, "nothing must be written"
    return exc.value


def test_good_file_passes(communes, tmp_path):
    (report,) = import_schools([write(tmp_path, "ecoles.csv", [HEADER, *GOOD])])
    assert (report.kind, report.created) == ("loire", 3)
    assert str(School.objects.get(uai="0429902K").ips) == "96.2"  # falls back on ips_2021_2022


def test_semicolon_and_bom_accepted(communes, tmp_path):
    path = write(tmp_path, "ecoles.csv", [HEADER, *GOOD], encoding="utf-8-sig", sep=";")
    (report,) = import_schools([path])
    assert report.created == 3


def test_invalid_uai_and_insee_name_file_line_column(communes, tmp_path):
    rows = [HEADER, GOOD[0],
            "0420111X,Ecole B,primaire,Public,42100,Saint-Étienne,42218,nom,45.4,4.3,,",
            "0420116Y,Ecole C,primaire,Public,42100,Nulle part,9A999,nom,45.4,4.3,,",
            "0420121D,Ecole D,primaire,Public,42100,Saint-Étienne,42218,nom,145.4,4.3,,",
            GOOD[1]]
    exc = fails(import_schools, [write(tmp_path, "ecoles.csv", rows)])
    assert [(e.file, e.line, e.column) for e in exc.errors] == [
        ("ecoles.csv", 3, "uai"), ("ecoles.csv", 4, "code_insee"), ("ecoles.csv", 5, "lat")]
    assert str(exc.errors[0]) == ("ecoles.csv, ligne 3, colonne « uai » : UAI « 0420111X » invalide : "
                                  "la lettre de contrôle devrait être T")
    assert "code INSEE « 9A999 » invalide" in exc.errors[1].message
    assert "latitude entre -90 et 90" in exc.errors[2].message
    assert exc.reports[0].rejected == 3
    message = str(exc)
    assert message.startswith("Import annulé, rien n'a été enregistré : 3 erreurs (3 lignes rejetées).")
    assert "- ecoles.csv, ligne 3, colonne « uai »" in message


def test_every_bad_row_listed(communes, tmp_path):
    rows = [HEADER] + [f"0420111X,Ecole {i},primaire,Public,42100,X,42218,nom,,,," for i in range(30)]
    exc = fails(import_schools, [write(tmp_path, "ecoles.csv", rows)])
    assert len(exc.errors) == 30 and exc.reports[0].rejected == 30
    assert "… et 10 autre(s) erreur(s)." in str(exc)


def test_wrong_format_lists_accepted_formats(communes, tmp_path):
    path = write(tmp_path, "budget.csv", ["compte,libelle,montant", "6061,Fournitures,1200"])
    exc = fails(import_schools, [path])
    (err,) = exc.errors
    assert (err.file, err.line) == ("budget.csv", 1)
    assert "format non reconnu pour un fichier d'écoles" in err.message
    for label in ("Annuaire de l'éducation", "Adresse et géolocalisation", "Effectifs", "IPS", "uai, nom, code_insee"):
        assert label in err.message


def test_schools_file_given_as_fibre(communes, tmp_path):
    exc = fails(import_fibre, write(tmp_path, "ecoles.csv", [HEADER, *GOOD]))
    assert "format non reconnu pour le fichier fibre ARCEP" in str(exc)


def test_wrong_separator(communes, tmp_path):
    exc = fails(import_schools, [write(tmp_path, "ecoles.csv", [HEADER, *GOOD], sep="|")])
    assert "séparateur non reconnu" in exc.errors[0].message and "« ; » ou « , »" in exc.errors[0].message


def test_values_with_unquoted_separator(communes, tmp_path):
    rows = [HEADER, "0429901J,Ecole A,primaire,Public,42100,Saint-Étienne,42218,nom,45,4391,4,3872,101,99",
            "0429902K,Ecole B,primaire,Public,42100,Saint-Étienne,42218,nom,45,4391,4,3872,,",
            GOOD[2] + ",,,"]  # trailing empty fields (a spreadsheet's export) are fine
    exc = fails(import_schools, [write(tmp_path, "ecoles.csv", rows)])
    assert [(e.line, e.column) for e in exc.errors] == [(2, None), (3, "lon")]
    assert exc.errors[0].message == "14 colonnes au lieu de 12 : séparateur « , » dans une valeur sans guillemets ?"


def test_missing_required_column_is_named(communes, tmp_path):
    header = HEADER.replace(",code_insee", "")
    rows = [header] + [",".join(r.split(",")[:6] + r.split(",")[7:]) for r in GOOD]
    exc = fails(import_schools, [write(tmp_path, "ecoles.csv", rows)])
    assert "colonne obligatoire absente : « code_insee »" in exc.errors[0].message


def test_missing_required_column_official_format(communes, shared_data, tmp_path):
    text = (shared_data / "formats" / "fr-en-annuaire-education.sample.csv").read_text(encoding="utf-8-sig")
    path = tmp_path / "annuaire.csv"
    path.write_text(text.replace("Code_commune", "Code_commune_ancien"), encoding="utf-8")
    exc = fails(import_schools, [path])
    assert "colonne obligatoire absente : « Code_commune »" in exc.errors[0].message
    assert "Annuaire de l'éducation" in exc.errors[0].message


def test_unknown_commune(communes, tmp_path):
    rows = [HEADER, GOOD[0], "0420146F,Ecole de Cellieu,primaire,Public,42320,Cellieu,42032,nom,45.5,4.5,,"]
    path = write(tmp_path, "ecoles.csv", rows)
    exc = fails(import_schools, [path], include_all=True)
    (err,) = exc.errors
    assert (err.line, err.column) == (3, "code_insee")
    assert "commune « 42032 » inconnue de la base" in err.message and "import-territory" in err.message
    # Without --all, it is skipped and said so.
    (report,) = import_schools([path])
    assert (report.created, report.skipped) == (1, 1)
    assert report.notes == ["1 établissement(s) hors des communes importées ignoré(s)"]


def test_empty_files(communes, tmp_path):
    empty = tmp_path / "vide.csv"
    empty.write_bytes(b"")
    assert fails(import_schools, [empty]).errors[0].message == "fichier vide"
    blank = tmp_path / "blanc.csv"
    blank.write_bytes(b"\xef\xbb\xbf\n  \n")
    assert "fichier vide" in fails(import_schools, [blank]).errors[0].message
    header_only = write(tmp_path, "entete.csv", [HEADER])
    (report,) = import_schools([header_only])
    assert (report.created, report.unchanged) == (0, 0)
    assert "fichier vide" in fails(import_fibre, empty).errors[0].message
    assert "fichier vide" in fails(import_boundaries, empty).errors[0].message
    assert "fichier vide" in fails(import_territory, None, None, empty).errors[0].message


def test_file_over_the_limit_refused_before_reading(communes, tmp_path, monkeypatch):
    big = tmp_path / "enorme.csv"
    with open(big, "wb") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper, nothing on disk

    def no_read(*args, **kwargs):
        raise AssertionError("the file must not be opened")

    monkeypatch.setattr(base, "open", no_read, raising=False)
    exc = fails(import_schools, [big])
    assert exc.errors[0].message == (f"fichier trop volumineux : 200 Mo, la limite est de "
                                     f"{MAX_FILE_BYTES // 2**20} Mo")
    # The CLI limit is larger (150 MB by default) but 200 MB is still refused.
    with pytest.raises(CommandError, match="fichier trop volumineux : 200 Mo, la limite est de 150 Mo"):
        call_command("import_schools", str(big))
    for fn in (import_fibre, import_boundaries):
        assert "trop volumineux" in str(fails(fn, big))


def test_non_utf8_file_read_as_windows_1252_with_note(communes, tmp_path):
    path = write(tmp_path, "ecoles-excel.csv", [HEADER, *GOOD], encoding="cp1252", sep=";")
    (report,) = import_schools([path])
    assert report.created == 3
    assert School.objects.get(uai="0429902K").name == "Ecole maternelle Le Pré"
    assert any("Windows-1252" in n for n in report.notes)


def test_binary_and_excel_files_refused(communes, tmp_path):
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    assert "fichier binaire" in fails(import_schools, [binary]).errors[0].message
    xlsx = tmp_path / "ecoles.xlsx"
    xlsx.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    assert "enregistrez le fichier au format CSV" in fails(import_schools, [xlsx]).errors[0].message


def test_utf16_excel_export_accepted(communes, tmp_path):
    path = tmp_path / "unicode.csv"
    path.write_bytes(("\n".join([HEADER.replace(",", "\t"), *(g.replace(",", "\t") for g in GOOD)])).encode("utf-16"))
    (report,) = import_schools([path])
    assert report.created == 3


def test_names_map_temporary_files_to_the_users_file(communes, tmp_path):
    path = write(tmp_path, "00.upload", [HEADER, GOOD[0].replace("0429901J", "0429901K")])
    exc = fails(import_schools, [path], names={str(path): "Mes écoles.csv"})
    assert exc.errors[0].file == "Mes écoles.csv" and str(exc.errors[0]).startswith("Mes écoles.csv, ligne 2")


def test_second_file_bad_nothing_from_the_first(communes, tmp_path):
    good = write(tmp_path, "ecoles.csv", [HEADER, *GOOD])
    bad = write(tmp_path, "autres.csv", [HEADER, GOOD[0].replace("0429901J", "0429901A")])
    exc = fails(import_schools, [good, bad])
    assert [r.file for r in exc.reports] == ["ecoles.csv", "autres.csv"]
    assert exc.reports[0].created == 3 and exc.reports[1].rejected == 1  # what would have been done
    assert [e.file for e in exc.errors] == ["autres.csv"]


def test_cancel_from_progress_rolls_back(communes, tmp_path):
    path = write(tmp_path, "ecoles.csv", [HEADER, *GOOD])
    calls = []

    def progress(done, total, message):
        calls.append((done, total, message))
        if "écoles" in message and done == total:
            raise Cancelled()

    before = state()
    with pytest.raises(Cancelled):
        import_schools([path], progress=progress)
    assert state() == before and calls


def test_fibre_bad_values(communes, tmp_path):
    header = ("code_commune,nom_commune,siren_epci,logements,etablissements,zones_tres_denses,engagement_L33-13,"
              "intentions_privees,code_OI_2018T1,locaux_raccordables_T4_2017,locaux_raccordables_T1_2018")
    rows = [header, "42218,Saint-Étienne,244200770,100,1,1,-,-,FRTE,10,20",
            "4X221,X,244200770,100,1,-,-,-,,10,20", "42207,Saint-Chamond,244200770,beaucoup,1,-,-,-,THD4,10,-5"]
    exc = fails(import_fibre, write(tmp_path, "arcep.csv", rows))
    assert [(e.line, e.column) for e in exc.errors] == [(3, "code_commune"), (4, "locaux_raccordables_T1_2018")]
    no_quarter = write(tmp_path, "arcep2.csv", [header.replace("locaux_raccordables", "locaux"), rows[1]])
    assert "locaux_raccordables_T" in str(fails(import_fibre, no_quarter))


def test_boundaries_bad_input(communes, tmp_path):
    bad_json = tmp_path / "contours.geojson"
    bad_json.write_text('{"type": "FeatureCollection", "features": [')
    assert "JSON invalide" in str(fails(import_boundaries, bad_json))
    wrong = tmp_path / "liste.geojson"
    wrong.write_text("[1, 2]")
    assert "FeatureCollection" in str(fails(import_boundaries, wrong))
    feat = tmp_path / "f.geojson"
    feat.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "42218"},'
                    ' "geometry": {"type": "Point", "coordinates": [4.3, 45.4]}}]}')
    err = fails(import_boundaries, feat).errors[0]
    assert err.column == "geometry" and "polygone" in err.message


def test_report_contract(communes, tmp_path):
    (report,) = import_schools([write(tmp_path, "ecoles.csv", [HEADER, *GOOD])])
    assert isinstance(report, Report)
    data = report.as_dict()
    assert set(data) == {"kind", "file", "created", "updated", "unchanged", "rejected", "closed", "skipped",
                         "errors", "notes"}
    e = RowError("a.csv", 3, "uai", "oups")
    assert str(e) == "a.csv, ligne 3, colonne « uai » : oups"
    assert str(RowError("a.csv", None, None, "fichier vide")) == "a.csv : fichier vide"


def test_cli_exit_code_and_message(tmp_path):
    """The real `preau` console script: exit code 1 and the message on stderr."""
    bad = tmp_path / "ecoles.csv"
    bad.write_text("compte;montant\n1;2\n", encoding="utf-8")
    env = {**os.environ, "PREAU_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'cli.sqlite3'}"}
    preau = Path(sys.executable).parent / "preau"
    subprocess.run([str(preau), "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    result = subprocess.run([str(preau), "import-schools", str(bad)], env=env, capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 1
    assert "Import annulé, rien n'a été enregistré" in result.stderr
    assert "ecoles.csv, ligne 1 : format non reconnu" in result.stderr
    result = subprocess.run([str(preau), "import-schools", "--help"], env=env, capture_output=True, text=True)
    assert "--all" in result.stdout and "--secondary" in result.stdout


def test_cli_max_size_option(communes, tmp_path):
    path = tmp_path / "ecoles.csv"
    with open(path, "wb") as fh:
        fh.truncate(3 * 1024 * 1024)
    with pytest.raises(CommandError, match="fichier trop volumineux : 3 Mo, la limite est de 1 Mo"):
        call_command("import_schools", str(path), "--max-size", "1")


def test_progress_bar_on_a_terminal(communes, tmp_path):
    import io

    from preau.territory.management.commands._importing import ProgressBar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    bar = ProgressBar(stream)
    bar(0, 10, "ecoles.csv : écoles")
    bar(10, 10, "ecoles.csv : écoles")
    bar.close()
    assert "[##############################] 100% 10/10 ecoles.csv : écoles" in stream.getvalue()
    quiet = io.StringIO()  # not a terminal (a log, a pipe): no bar
    ProgressBar(quiet)(5, 10, "x")
    assert quiet.getvalue() == ""
    calls = []
    import_schools([write(tmp_path, "ecoles.csv", [HEADER, *GOOD])], progress=lambda *a: calls.append(a))
    assert calls[-1][0] == calls[-1][1] and all(isinstance(c[2], str) for c in calls)


# Fuzzing: whatever the bytes, an importer either imports or raises ImportFailed (never another error).

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
cell = st.text(alphabet=st.sampled_from(list("0123456789AJKLéÉ;,\"'\t .-/x")), max_size=12)


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_any_bytes(communes, tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    for call in (lambda: import_schools([path]), lambda: import_fibre(path), lambda: import_boundaries(path),
                 lambda: import_territory(None, None, path)):
        try:
            call()
        except ImportFailed as exc:
            assert exc.errors and all(isinstance(e, RowError) for e in exc.errors)


@FUZZ
@given(rows=st.lists(st.lists(cell, min_size=10, max_size=14), max_size=6))
def test_fuzz_rows_of_a_known_format(communes, tmp_path, rows):
    path = tmp_path / "fuzz.csv"
    path.write_text("\n".join([HEADER, *(",".join(r) for r in rows)]) + "\n", encoding="utf-8")
    try:
        import_schools([path], include_all=True)
    except ImportFailed as exc:
        assert all(e.file == "fuzz.csv" for e in exc.errors)
