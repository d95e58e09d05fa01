"""Fibre per commune from the ARCEP FttH observatory, and each school's default connectivity.

Two layouts are accepted:
- the per-commune extract (`arcep_ftth_communes_loire42_2018T1.csv`, header on line 1):
  `code_commune, logements, zones_tres_denses, engagement_L33-13, intentions_privees,
  code_OI_<période>, locaux_raccordables_T<q>_<année>…`;
- the national file (`ftthCommunes.csv`): title lines, then `Code commune, Champ, T3 2017…`
  with two rows per commune ("Locaux Raccordables", "Catégorie"). It carries no operator, zone
  or housing count: only premises and period are updated from it.

Network of a commune (decision): very dense zone → "ztd"; an infrastructure operator code of a
public network (RIP: THD4 = THD42 in the Loire) → "rip"; an Orange/SFR commitment
(engagement_L33-13, intentions privées) or another operator → "amii"; nothing → "none".

Communes of the file missing from the database are skipped (the file covers a whole
department or France). Each school of an updated commune whose connectivity is absent or
came from "arcep"/"demo"/nothing gets access "fibre" when the commune has connectable
premises (else "" = unknown), the commune's network and source "arcep"; a connectivity
entered by hand ("manual") is never overwritten. Counts are communes; connectivities are in
the notes.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from ..codes import insee_error, normalize_insee
from ..models import Access, Commune, Connectivity, ConnectivitySource, FibreNetwork, School
from .base import (
    MAX_FILE_BYTES,
    BadValue,
    FileError,
    Format,
    ImportFailed,
    Progress,
    Report,
    RowError,
    RowTooLong,
    Ticker,
    Upsert,
    display_name,
    filter_in,
    open_table,
    parse_int,
)
from .schools import ARRONDISSEMENTS, C

RIP_OPERATORS = {"THD4"}  # public networks (réseaux d'initiative publique) by ARCEP operator code

WIDE = Format("fibre", "Observatoire ARCEP du FttH par commune (code_commune, zones_tres_denses, "
              "engagement_L33-13, locaux_raccordables_T…)", (
                  "zones_tres_denses", "engagement_l33_13", "intentions_privees", "siren_epci",
              ), [
    C("commune", "code_commune", required=True),
    C("housing", "logements"),
    C("ztd", "zones_tres_denses"),
    C("commitment", "engagement_L33-13"),
    C("intentions", "intentions_privees"),
])
LONG = Format("fibre", "Observatoire ARCEP national (ftthCommunes.csv : Code commune, Champ, T1 2018…)",
              ("champ",), [
    C("commune", "Code commune", required=True),
    C("field", "Champ", required=True),
])

_PREMISES = re.compile(r"^locaux_raccordables_t([1-4])_(\d{4})$")
_OPERATOR = re.compile(r"^code_oi_(\d{4})t([1-4])$")
_QUARTER = re.compile(r"^t([1-4])_(\d{4})$")
COMMUNE_FIELDS = ["fibre_network", "fibre_operator", "fibre_premises", "fibre_housing", "fibre_period"]


def network_for(ztd: str, commitment: str, intentions: str, operator: str) -> str:
    def yes(v: str) -> bool:
        return bool(v) and v not in ("-", "0", "non", "NON")

    if yes(ztd):
        return FibreNetwork.ZTD
    codes = {c for c in re.split(r"[-/ ,]+", operator or "") if c}
    if codes & RIP_OPERATORS:
        return FibreNetwork.RIP
    if yes(commitment) or yes(intentions) or codes:
        return FibreNetwork.AMII
    return FibreNetwork.NONE


def _latest(normalized: list[str], pattern: re.Pattern, year_first: bool) -> tuple[int, str] | None:
    best = None
    for i, h in enumerate(normalized):
        m = pattern.match(h)
        if m:
            q, y = (m.group(2), m.group(1)) if year_first else (m.group(1), m.group(2))
            rank = (int(y), int(q))
            if best is None or rank > best[0]:
                best = (rank, i, f"T{q} {y}")
    return (best[1], best[2]) if best else None


def import_fibre(path, *, user=None, progress: Progress | None = None, names: dict | None = None,
                 max_bytes: int | None = MAX_FILE_BYTES) -> Report:
    name = display_name(path, names)
    report = Report(kind="fibre", file=name)
    try:
        table = open_table(path, name, [WIDE, LONG], "le fichier fibre ARCEP", max_bytes)
        long = table.fmt is LONG
        if long:
            quarter = _latest(table.normalized, _QUARTER, year_first=False)
            if quarter is None:
                raise FileError(name, "aucune colonne de trimestre (ex. « T1 2018 ») dans l'en-tête",
                                line=table.header_line)
            operator_col = None
        else:
            quarter = _latest(table.normalized, _PREMISES, year_first=False)
            if quarter is None:
                raise FileError(name, "colonne obligatoire absente : « locaux_raccordables_T<trimestre>_<année> » "
                                      "(ex. locaux_raccordables_T1_2018)", line=table.header_line)
            op = _latest(table.normalized, _OPERATOR, year_first=True)
            operator_col = op[0] if op else None
    except FileError as exc:
        report.errors.append(exc.error)
        raise ImportFailed([exc.error], [report]) from None
    report.notes += table.notes
    premises_col, period = quarter
    premises_label = table.header[premises_col]
    get = table.getter()

    communes = {c["insee"]: c for c in Commune.objects.order_by().values("id", "insee", "name", *COMMUNE_FIELDS)}
    incoming: dict[str, dict] = {}
    outside = 0
    rows = list(table.rows())
    ticker = Ticker(progress, len(rows), f"{name} : lecture")
    for line, row in rows:
        ticker.tick()
        if isinstance(row, RowTooLong):
            report.errors.append(RowError(name, line, None, row.message(table.delimiter)))
            continue
        insee = normalize_insee(get(row, "commune"))
        err = insee_error(insee)
        if err:
            report.errors.append(RowError(name, line, table.label("commune"), err))
            continue
        if long and not get(row, "field").lower().startswith("locaux"):
            continue
        try:
            premises = parse_int(row[premises_col].strip(), "un nombre de locaux")
        except BadValue as exc:
            report.errors.append(RowError(name, line, premises_label, str(exc)))
            continue
        values = {"fibre_premises": premises, "fibre_period": period}
        if not long:
            try:
                values["fibre_housing"] = parse_int(get(row, "housing"), "un nombre de logements")
            except BadValue as exc:
                report.errors.append(RowError(name, line, table.label("housing"), str(exc)))
                continue
            operator = row[operator_col].strip() if operator_col is not None else ""
            values["fibre_operator"] = operator[:20]
            values["fibre_network"] = network_for(get(row, "ztd"), get(row, "commitment"), get(row, "intentions"),
                                                  operator)
        code = insee if insee in communes else ARRONDISSEMENTS.get(insee)
        if code not in communes:
            outside += 1
            continue
        if code in incoming:  # arrondissements: the commune gets the sum
            prev = incoming[code]
            values["fibre_premises"] = (prev["fibre_premises"] or 0) + (values["fibre_premises"] or 0)
            if "fibre_housing" in values:
                values["fibre_housing"] = (prev.get("fibre_housing") or 0) + (values["fibre_housing"] or 0)
        incoming[code] = values
    report.rejected = len({e.line for e in report.errors})
    if report.errors:
        raise ImportFailed(report.errors, [report])
    if outside:
        report.skipped = outside
        report.notes.append(f"{outside} commune(s) absente(s) de la base ignorée(s)")
    if long:
        report.notes.append("fichier national : réseau, opérateur et logements non fournis, laissés tels quels")

    note = f"import {name}"
    with transaction.atomic():
        up = Upsert(Commune, "insee", communes, user, note)
        for code, values in incoming.items():
            up.add(code, values)
        up.save()
        report.created, report.updated, report.unchanged = up.created, up.updated, up.unchanged

        # Default connectivity of the schools of these communes.
        by_id = {communes[code]["id"]: {**communes[code], **values} for code, values in incoming.items()}
        schools = [(s["id"], s["commune_id"])
                   for s in filter_in(School.objects.order_by().values("id", "commune_id"), "commune_id", by_id)]
        existing = {c["school_id"]: c for c in filter_in(
            Connectivity.objects.order_by().values("school_id", "access", "network", "source"), "school_id",
            [s for s, _c in schools])}
        cup = Upsert(Connectivity, "school_id", existing, user, note)
        kept = 0
        for sid, cid in schools:
            old = existing.get(sid)
            if old is not None and old["source"] not in ("", ConnectivitySource.ARCEP, ConnectivitySource.DEMO):
                kept += 1
                continue
            commune = by_id[cid]
            cup.add(sid, {
                "access": Access.FIBRE if (commune["fibre_premises"] or 0) > 0 else Access.UNKNOWN,
                "network": commune["fibre_network"] or "",
                "source": ConnectivitySource.ARCEP,
            })
        now = timezone.now()
        for obj in cup.to_update:
            obj.updated_at = now
        cup.save(extra_update_fields=["updated_at"])
        if cup.created or cup.updated or cup.unchanged or kept:
            text = (f"connectivité des écoles : {cup.created} créée(s), {cup.updated} mise(s) à jour, "
                    f"{cup.unchanged} inchangée(s)")
            if kept:
                text += f", {kept} saisie(s) à la main conservée(s)"
            report.notes.append(text)
        ticker.finish(f"{name} : {len(incoming)} communes")
    return report
