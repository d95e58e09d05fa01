"""EPCI and communes from the Etalab "découpage administratif" JSON files (epci.json, communes.json).

With an EPCI SIREN: that EPCI (created or updated) and its member communes (`membres`).
Without: every current commune (`type` = `commune-actuelle`), and, when epci.json is given,
every EPCI with its members attached (the national benchmark).

Each commune's `former_codes`: the INSEE codes of the communes merged into it (a "commune
nouvelle"), from its `anciensCodes` and from the `commune-deleguee` / `commune-associee`
entries whose `chefLieu` is that commune (its own code excluded), sorted, space-separated.
The school importers resolve a former code to its commune through them.
"""

from __future__ import annotations

import json

from django.db import transaction

from ..codes import insee_error, siren_error
from ..models import Commune, Epci, stratum_for
from .base import (
    MAX_FILE_BYTES,
    FileError,
    ImportFailed,
    Progress,
    Report,
    RowError,
    Ticker,
    Upsert,
    display_name,
    read_text,
)

EPCI_KINDS = {"METRO": "ME", "MET69": "ME", "CU": "CU", "CA": "CA", "CC": "CC"}
COMMUNE_FIELDS = ["name", "department", "population", "stratum", "siren", "postal_codes", "former_codes", "epci_id"]
FORMER_KINDS = ("commune-deleguee", "commune-associee")
FORMER_CODES_MAX = Commune._meta.get_field("former_codes").max_length


def _codes(values) -> set[str]:
    """The valid INSEE codes of a JSON list (anything else ignored: history, not data to reject)."""
    if not isinstance(values, list):
        return set()
    out = set()
    for v in values:
        code = str(v).strip().upper()
        if not insee_error(code):
            out.add(code)
    return out


def _former_codes(code: str, anciens, merged: set[str] | None) -> str:
    """anciensCodes + codes merged into `code` (its own excluded): sorted, space-separated, cut at a whole code
    if ever longer than the field."""
    if not anciens and not merged:
        return ""
    codes = _codes(anciens)
    if merged:
        codes |= merged
    codes.discard(code)
    text = " ".join(sorted(codes))
    if len(text) > FORMER_CODES_MAX:
        text = text[:FORMER_CODES_MAX + 1].rsplit(" ", 1)[0]
    return text


def _count(value) -> int | None:
    """A population: a non-negative integer, else None (absent or not a number)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _load_json(path, name: str, max_bytes: int | None, what: str) -> list:
    text, _note = read_text(path, name, max_bytes)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(name, f"JSON invalide ({exc.msg}, colonne {exc.colno}) : le fichier {what} d'Etalab "
                              f"(« découpage administratif ») est attendu", line=exc.lineno) from None
    if isinstance(data, dict) and isinstance(data.get("features"), list):
        raise FileError(name, f"GeoJSON reçu, mais le fichier {what} d'Etalab (liste JSON) est attendu")
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data[:50]):
        raise FileError(name, f"format non reconnu : le fichier {what} d'Etalab est attendu "
                              f"(une liste JSON d'objets avec « code », « nom »…)")
    return data


def _check_communes_file(data: list, name: str) -> None:
    sample = data[:50]
    if sample and not all("code" in x and "nom" in x for x in sample):
        raise FileError(name, "format non reconnu : communes.json d'Etalab attendu (objets avec « code », « nom », "
                              "« type », « population »…)")
    if sample and any("membres" in x for x in sample):
        raise FileError(name, "c'est un fichier d'EPCI (epci.json) : le fichier des communes (communes.json) est "
                              "attendu ici")


def _check_epcis_file(data: list, name: str) -> None:
    if data and not all("code" in x and "membres" in x for x in data[:50]):
        raise FileError(name, "format non reconnu : epci.json d'Etalab attendu (objets avec « code », « nom », "
                              "« membres »)")


def import_territory(epci_siren: str | None, epcis_path, communes_path, *, user=None,
                     progress: Progress | None = None, names: dict | None = None,
                     max_bytes: int | None = MAX_FILE_BYTES) -> Report:
    communes_name = display_name(communes_path, names)
    report = Report(kind="territory", file=communes_name)
    errors: list[RowError] = []
    epci_siren = (epci_siren or "").strip() or None

    try:
        if epci_siren and siren_error(epci_siren):
            raise FileError(display_name(epcis_path, names) if epcis_path else "--epci", siren_error(epci_siren))
        if epci_siren and not epcis_path:
            raise FileError(communes_name, "le fichier epci.json est nécessaire pour importer un EPCI")
        epcis = None
        if epcis_path:
            epcis_name = display_name(epcis_path, names)
            epcis = _load_json(epcis_path, epcis_name, max_bytes, "epci.json")
            _check_epcis_file(epcis, epcis_name)
        communes = _load_json(communes_path, communes_name, max_bytes, "communes.json")
        _check_communes_file(communes, communes_name)
    except FileError as exc:
        report.errors.append(exc.error)
        raise ImportFailed([exc.error], [report]) from None

    # Current communes by INSEE code; former codes (communes déléguées/associées) by chef-lieu.
    current: dict[str, tuple[int, dict]] = {}
    merged_into: dict[str, set[str]] = {}
    for i, c in enumerate(communes, start=1):
        if not isinstance(c, dict):
            errors.append(RowError(communes_name, None, None, f"élément n° {i} : un objet JSON (une commune) est "
                                                              f"attendu"))
            continue
        kind = c.get("type", "commune-actuelle")
        if kind != "commune-actuelle":
            if kind in FORMER_KINDS and c.get("chefLieu"):
                merged_into.setdefault(str(c["chefLieu"]).strip().upper(), set()).update(_codes([c.get("code")]))
            continue
        code = str(c.get("code", "")).strip().upper()
        err = insee_error(code)
        if err:
            errors.append(RowError(communes_name, None, "code", f"commune n° {i} ({c.get('nom', '?')}) : {err}"))
            continue
        current[code] = (i, c)

    # Which communes, and their EPCI (by SIREN).
    epci_rows: dict[str, dict] = {}
    member_of: dict[str, str] = {}
    if epcis is not None:
        epcis_name = display_name(epcis_path, names)
        for i, e in enumerate(epcis, start=1):
            if not isinstance(e, dict):
                errors.append(RowError(epcis_name, None, None, f"élément n° {i} : un objet JSON (un EPCI) est attendu"))
                continue
            siren = str(e.get("code", "")).strip()
            if epci_siren and siren != epci_siren:
                continue
            err = siren_error(siren)
            if err:
                errors.append(RowError(epcis_name, None, "code", f"EPCI n° {i} ({e.get('nom', '?')}) : {err}"))
                continue
            epci_rows[siren] = {
                "name": str(e.get("nom") or siren)[:200],
                "kind": EPCI_KINDS.get(str(e.get("type") or ""), str(e.get("type") or "")[:10]),
                "population": _count(e.get("populationTotale")),
            }
            for m in e.get("membres") or []:
                m = m if isinstance(m, dict) else {"code": m}
                code = str(m.get("code", "")).strip().upper()
                if code not in current:
                    errors.append(RowError(epcis_name, None, "membres",
                                           f"EPCI {siren} : la commune membre « {code} » ({m.get('nom', '?')}) "
                                           f"est absente de {communes_name} (communes actuelles)"))
                    continue
                member_of[code] = siren
        if epci_siren and epci_siren not in epci_rows:
            errors.append(RowError(epcis_name, None, "code",
                                   f"EPCI « {epci_siren} » absent du fichier : le SIREN d'un EPCI de epci.json "
                                   f"est attendu (ex. 244200770 pour Saint-Étienne Métropole)"))
    wanted = sorted(member_of) if epci_siren else sorted(current)

    if errors:
        report.rejected = len(errors)
        report.errors = errors
        raise ImportFailed(errors, [report])

    ticker = Ticker(progress, len(wanted), f"{communes_name} : communes")
    with transaction.atomic():
        # EPCI rows.
        existing_epcis = {e["siren"]: e for e in Epci.objects.order_by().values("id", "siren", "name", "kind", "population")}
        up = Upsert(Epci, "siren", existing_epcis, user, f"import {communes_name}")
        for siren, values in epci_rows.items():
            up.add(siren, values)
        up.save()
        if up.created or up.updated:
            if epci_siren:
                verb = "créé" if up.created else "mis à jour"
                report.notes.append(f"EPCI « {epci_rows[epci_siren]['name']} » {verb}")
            else:
                report.notes.append(f"EPCI : {up.created} créé(s), {up.updated} mis à jour")
        epci_ids = {siren: pk for siren, pk in Epci.objects.order_by().values_list("siren", "id") if siren in epci_rows}

        # Communes.
        existing = {c["insee"]: c for c in Commune.objects.order_by().values("id", "insee", *COMMUNE_FIELDS)}
        up = Upsert(Commune, "insee", existing, user, f"import {communes_name}")
        for code in wanted:
            _i, c = current[code]
            population = _count(c.get("population"))
            values = {
                "name": str(c.get("nom") or code)[:200],
                "department": str(c.get("departement") or "")[:3],
                "population": population,
                "stratum": stratum_for(population) if population is not None else "",
                "siren": str(c.get("siren") or "")[:9],
                "postal_codes": ", ".join(sorted(set(c.get("codesPostaux") or [])))[:200],
                "former_codes": _former_codes(code, c.get("anciensCodes"), merged_into.get(code)),
            }
            if epcis is not None:
                values["epci_id"] = epci_ids.get(member_of.get(code))
            up.add(code, values)
            ticker.tick()
        # Communes that left the EPCI: detached, not deleted.
        if epci_siren and epci_siren in epci_ids:
            eid = epci_ids[epci_siren]
            gone = [code for code, row in existing.items() if row["epci_id"] == eid and code not in member_of]
            for code in gone:
                up.add(code, {"epci_id": None})
            if gone:
                report.notes.append(f"{len(gone)} commune(s) ne sont plus membres de l'EPCI : détachées "
                                    f"({', '.join(gone[:10])})")
        up.save()
        report.created, report.updated, report.unchanged = up.created, up.updated, up.unchanged
        if not epci_siren:
            others = sum(1 for c in communes if c.get("type", "commune-actuelle") != "commune-actuelle")
            if others:
                report.skipped = others
                report.notes.append(f"{others} entrées qui ne sont pas des communes actuelles (communes déléguées, "
                                    f"associées, arrondissements) ignorées (les codes des communes déléguées et "
                                    f"associées sont gardés comme anciens codes INSEE de leur commune)")
        ticker.finish(f"{communes_name} : {len(wanted)} communes")
    return report
