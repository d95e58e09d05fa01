"""Internationalisation: French by default, English on request, and a complete English catalogue.

The interface is written in French (the msgids); preau/locale/en holds the English translation.
The catalogue tests only look at the strings present in the .po file: a string added to a template
without re-running `makemessages` is not caught here, but one left untranslated after it is.
"""

import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

LOCALE = Path(settings.LOCALE_PATHS[0])
EN_PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"
EN_MO = LOCALE / "en" / "LC_MESSAGES" / "django.mo"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


# --- a small .po parser (no dependency) -------------------------------------------------------

def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), text
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: dicts with msgctxt/msgid/msgid_plural/msgstr/msgstr[N], plus flags.

    Obsolete entries (#~) are skipped, as msgfmt does."""
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip()):
        entry, key, flags = {}, None, set()
        for line in block.splitlines():
            if line.startswith("#,"):
                flags.update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                entry[key] += _unquote(line)
            else:
                key, _, value = line.partition(" ")
                entry[key] = _unquote(value)
        if "msgid" in entry:
            entry["flags"] = flags
            entries.append(entry)
    return entries


def translations_of(entry: dict) -> list[str]:
    return [value for key, value in sorted(entry.items()) if key.startswith("msgstr")]


@pytest.fixture(scope="module")
def en_entries() -> list[dict]:
    assert EN_PO.is_file(), f"missing {EN_PO}: run makemessages -l en"
    return [e for e in parse_po(EN_PO) if e["msgid"]]  # the header has an empty msgid


# --- the catalogue --------------------------------------------------------------------------

def test_en_catalogue_is_not_empty(en_entries):
    assert len(en_entries) > 100


def test_every_english_string_is_translated(en_entries):
    untranslated = [e["msgid"] for e in en_entries if not all(t.strip() for t in translations_of(e))]
    assert not untranslated, f"{len(untranslated)} untranslated string(s): {untranslated[:10]}"


def test_no_fuzzy_entry(en_entries):
    fuzzy = [e["msgid"] for e in en_entries if "fuzzy" in e["flags"]]
    assert not fuzzy, f"fuzzy entries are ignored by msgfmt: {fuzzy[:10]}"


def test_plural_entries_have_both_forms(en_entries):
    for e in en_entries:
        if "msgid_plural" in e:
            assert e.get("msgstr[0]") and e.get("msgstr[1]"), e["msgid"]


def test_placeholders_and_outer_spaces_are_kept(en_entries):
    for e in en_entries:
        sources = [e["msgid"], e.get("msgid_plural", e["msgid"])]
        for i, translated in enumerate(translations_of(e)):
            source = sources[min(i, 1)]
            if "python-format" in e["flags"]:
                assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(source)), e["msgid"]
            assert source[:1].isspace() == translated[:1].isspace(), e["msgid"]
            assert source[-1:].isspace() == translated[-1:].isspace(), e["msgid"]
            assert source.endswith("\n") == translated.endswith("\n"), e["msgid"]


def test_compiled_catalogue_matches_the_po_file(en_entries):
    """The committed .mo holds exactly the .po translations (compilemessages was run after editing)."""
    assert EN_MO.is_file(), f"missing {EN_MO}: run compilemessages"
    with EN_MO.open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    stale = []
    for e in en_entries:
        key = e["msgid"] if "msgctxt" not in e else f"{e['msgctxt']}\x04{e['msgid']}"
        if "msgid_plural" in e:
            ok = (mo.ngettext(key, e["msgid_plural"], 1) == e["msgstr[0]"]
                  and mo.ngettext(key, e["msgid_plural"], 2) == e["msgstr[1]"])
        else:
            ok = mo.gettext(key) == e["msgstr"]
        if not ok:
            stale.append(e["msgid"])
    assert not stale, f"django.mo is out of date for: {stale[:10]}"


def test_django_loads_the_english_catalogue(en_entries):
    catalog = trans_real.translation("en")
    for e in en_entries:
        if "msgid_plural" not in e and "msgctxt" not in e:
            assert catalog.gettext(e["msgid"]) == e["msgstr"], e["msgid"]
    with translation.override("en"):
        assert translation.gettext("Tableau de bord") == "Dashboard"
        assert translation.ngettext("%(n)s école", "%(n)s écoles", 2) % {"n": 2} == "2 schools"
    with translation.override("fr"):
        assert translation.gettext("Tableau de bord") == "Tableau de bord"


# --- the pages ------------------------------------------------------------------------------

def switch_to_english(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    return client


@pytest.mark.django_db
def test_login_page_is_french_by_default(client):
    html = client.get(reverse("login")).content.decode()
    assert 'lang="fr"' in html
    assert "Identifiant" in html
    assert "Mot de passe" in html
    assert "Username" not in html


@pytest.mark.django_db
def test_login_page_in_english(client):
    html = switch_to_english(client).get(reverse("login")).content.decode()
    assert 'lang="en"' in html
    assert "Username" in html
    assert "Password" in html
    assert "Identifiant" not in html


def test_dashboard_in_french_by_default(cast, login):
    html = login(cast.admin).get(reverse("home")).content.decode()
    assert "Tableau de bord" in html
    assert "écoles" in html


def test_dashboard_in_english(cast, login):
    client = switch_to_english(login(cast.admin))
    html = client.get(reverse("home")).content.decode()
    assert 'lang="en"' in html
    assert "<h1>Dashboard</h1>" in html
    assert "schools" in html
    for label in ["municipalities", "pupils", "School connectivity", "View the map", "Log out"]:
        assert label in html, label
    for french in ["Tableau de bord", "Se déconnecter", "Voir la carte"]:
        assert french not in html, french


def test_school_list_in_english(cast, login):
    client = switch_to_english(login(cast.admin))
    html = client.get(reverse("territory:schools")).content.decode()
    assert "<h1>Schools</h1>" in html
    assert "3 schools" in html
    for label in ["Filter", "Export as CSV", "Municipality", "Pupils", "Sector", "Access"]:
        assert label in html, label
    for french in ["Filtrer", "Exporter en CSV", "Élèves"]:
        assert french not in html, french


def test_map_in_english(cast, login):
    client = switch_to_english(login(cast.admin))
    html = client.get(reverse("territory:map")).content.decode()
    assert "Map of the territory" in html
    assert "3 schools shown." in html
    for label in ["Legend", "View the school list", "no access"]:
        assert label in html, label
    for french in ["Carte du territoire", "Légende", "Voir la liste des écoles"]:
        assert french not in html, french


def test_school_detail_in_english(cast, login):
    client = switch_to_english(login(cast.admin))
    html = client.get(reverse("territory:school", args=[cast.sa1.uai])).content.decode()
    for label in ["Identity", "Connectivity", "School district", "Classes", "primary", "public"]:
        assert label in html, label


def test_back_to_french(cast, login):
    client = switch_to_english(login(cast.admin))
    client.post(reverse("set_language"), {"language": "fr", "next": "/"})
    html = client.get(reverse("home")).content.decode()
    assert "<h1>Tableau de bord</h1>" in html
