"""Schools (and classes) from the five accepted school files, detected by their header.

1. "Annuaire de l'éducation" (official export, ~70 columns),
2. "Adresse et géolocalisation des établissements" (official export),
3. "Effectifs d'élèves par niveau et nombre de classes" (official export): classes of a school year,
4. the DEPP IPS file `fr-en-ips_ecoles.csv` (national),
5. the Loire CSV `ecoles_loire42_from_ips-map.csv` (uai, nom, niveau_deduit_du_nom, secteur, code_insee…).

Decisions where the spec is silent (see also the package docstring):
- "the imported communes" are the communes in the database (what `import-territory` put
  there). By default a school in any other commune is skipped and counted in a note; with
  `include_all` every school is kept, so a commune unknown to the database is an error (import
  the territory first). Paris/Lyon/Marseille arrondissement codes (75101…, 69381…, 13201…) are
  read as their commune. A code that is no longer a commune's (merged since the file was
  produced, into a "commune nouvelle") is read as the commune whose `former_codes` list it
  (noted in the report); a former code claimed by two communes resolves to neither.
- Each format writes only the fields it carries: a field whose column is absent, or whose cell
  is empty, is left as is (files complete each other: the geolocation export has no pupils,
  the annuaire no IPS). `source` is set when a school is created.
- Non-école establishments: collèges, lycées, EREA (nature 3xx, type, or name) are imported
  only with `include_secondary`; other structures (services, CIO, médico-social) never.
- Closed schools (annuaire `etat` FERME, geolocation "Etat établissement" FERME, or a closing
  date column): `closed_on` is set (counted in `closed`); a closed school unknown to the
  database is not created. An open one with `closed_on` set is reopened.
- The effectifs file has no INSEE code, so it cannot create schools: rows of schools unknown to
  the database are skipped (an error with `include_all`). It updates School.pupils and the
  classes of its year ("Classe 1..N"); classes named "Classe k" with k > N for that school and
  year are deleted; classes with other names (entered by hand) are left alone. Its counts are
  classes.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone

from preau.core import audit
from preau.core.models import AuditEntry

from ..codes import insee_error, normalize_insee, normalize_uai, uai_error
from ..models import Circonscription, Commune, Contract, Level, School, SchoolClass, SchoolKind, Sector
from .base import (
    MAX_FILE_BYTES,
    BadValue,
    Column,
    FileError,
    Format,
    ImportFailed,
    Progress,
    Report,
    RowError,
    RowTooLong,
    Ticker,
    Upsert,
    delete_in,
    display_name,
    fast_insert,
    fast_update,
    filter_in,
    jsonable,
    open_table,
    parse_date,
    parse_decimal,
    parse_float,
    parse_int,
    plain,
    write_audit,
)


def C(fld, label, *aliases, required=False):  # noqa: N802 — a compact column declaration
    from .base import norm

    return Column(fld, tuple(dict.fromkeys([norm(label), *(norm(a) for a in aliases)])), label, required)


ANNUAIRE = Format("annuaire", "Annuaire de l'éducation", (
    "identifiant_de_l_etablissement", "nom_etablissement", "type_etablissement", "statut_public_prive",
    "nom_circonscription", "ecole_maternelle", "ecole_elementaire", "libelle_nature",
), [
    C("uai", "Identifiant_de_l_etablissement", required=True),
    C("name", "Nom_etablissement", required=True),
    C("commune", "Code_commune", required=True),
    C("type", "Type_etablissement"),
    C("status", "Statut_public_prive"),
    C("address1", "Adresse_1"),
    C("address2", "Adresse_2"),
    C("postal_code", "Code postal", "Code_postal"),
    C("mat", "Ecole_maternelle"),
    C("ele", "Ecole_elementaire"),
    C("phone", "Telephone"),
    C("website", "Web"),
    C("email", "Mail"),
    C("pupils", "Nombre_d_eleves"),
    C("contract_label", "Type_contrat_prive"),
    C("contract_code", "Code_type_contrat_prive"),
    C("circonscription", "nom_circonscription"),
    C("lat", "latitude"),
    C("lon", "longitude"),
    C("opened_on", "date_ouverture"),
    C("closed_on", "date_fermeture"),
    C("updated_on", "date_maj_ligne"),
    C("state", "etat"),
    C("nature", "code_nature"),
    C("nature_label", "libelle_nature"),
])

GEOLOC = Format("geoloc", "Adresse et géolocalisation des établissements", (
    "code_etablissement", "appellation_officielle", "patronyme_uai", "secteur_public_prive",
    "qualite_d_appariement", "localite_d_acheminement",
), [
    C("uai", "Code établissement", required=True),
    C("name", "Appellation officielle", required=True),
    C("commune", "Code commune", required=True),
    C("denomination", "Dénomination principale"),
    C("patronyme", "Patronyme uai"),
    C("status", "Secteur Public/Privé"),
    C("address1", "Adresse"),
    C("address2", "Lieu dit"),
    C("postal_code", "Code postal"),
    C("lat", "Latitude"),
    C("lon", "Longitude"),
    C("nature", "Code nature"),
    C("nature_label", "Nature"),
    C("state", "Etat établissement"),
    C("contract_code", "secteur_prive_code_type_contrat"),
    C("contract_label", "secteur_prive_libelle_type_contrat"),
    C("opened_on", "date_ouverture"),
    C("closed_on", "date_fermeture"),
])

EFFECTIFS = Format("effectifs", "Effectifs d'élèves par niveau et nombre de classes par école", (
    "numero_de_l_ecole", "nombre_total_de_classes", "nombre_total_d_eleves",
    "nombre_d_eleves_en_cp_hors_ulis",
), [
    C("year", "Rentrée scolaire", required=True),
    C("uai", "Numéro de l'école", required=True),
    C("classes", "Nombre total de classes", required=True),
    C("pupils", "Nombre total d'élèves", required=True),
    C("pre", "Nombre d'élèves en pré-élémentaire hors ULIS"),
    C("ele", "Nombre d'élèves en élémentaire hors ULIS"),
    C("ulis", "Nombre d'élèves en ULIS"),
    C("cp", "Nombre d'élèves en CP hors ULIS"),
    C("ce1", "Nombre d'élèves en CE1 hors ULIS"),
    C("ce2", "Nombre d'élèves en CE2 hors ULIS"),
    C("cm1", "Nombre d'élèves en CM1 hors ULIS"),
    C("cm2", "Nombre d'élèves en CM2 hors ULIS"),
    C("denomination", "Dénomination principale"),
    C("patronyme", "Patronyme"),
])

IPS = Format("ips", "IPS des écoles (DEPP, fr-en-ips_ecoles.csv)", (
    "nom_de_l_etablissment", "nom_de_l_etablissement", "code_insee_de_la_commune",
), [
    C("uai", "UAI", required=True),
    C("name", "Nom de l'établissment", "Nom de l'établissement", required=True),
    C("commune", "Code INSEE de la commune", required=True),
    C("status", "Secteur"),
    C("ips", "IPS"),
])

LOIRE = Format("loire", "CSV des écoles (uai, nom, code_insee… : ecoles_loire42_from_ips-map.csv)", (
    "niveau_deduit_du_nom", "rattachement_insee", "ips_2021_2022",
), [
    C("uai", "uai", required=True),
    C("name", "nom", required=True),
    C("commune", "code_insee", required=True),
    C("level", "niveau_deduit_du_nom"),
    C("status", "secteur"),
    C("postal_code", "code_postal"),
    C("lat", "lat", "latitude"),
    C("lon", "lon", "longitude"),
    C("ips", "ips"),
    C("ips_old", "ips_2021_2022"),
])

FORMATS = [ANNUAIRE, GEOLOC, EFFECTIFS, IPS, LOIRE]

# Paris, Lyon, Marseille: the arrondissement municipal codes some files use, read as their commune.
ARRONDISSEMENTS = {
    **{f"751{i:02d}": "75056" for i in range(1, 21)},
    **{f"6938{i}": "69123" for i in range(1, 10)},
    **{f"132{i:02d}": "13055" for i in range(1, 17)},
}

SCHOOL_FIELDS = ["name", "kind", "sector", "contract", "address", "postal_code", "commune_id", "circonscription_id",
                 "lat", "lon", "pupils", "ips", "phone", "email", "website", "opened_on", "closed_on", "source"]
_MAX = {"name": 200, "address": 300, "postal_code": 5, "phone": 30, "email": 254, "website": 200}


# --------------------------------------------------------------------------- value helpers


def kind_from(name: str = "", nature: str = "", mat: str = "", ele: str = "", hint: str = "",
              default: str | None = SchoolKind.PRIMAIRE) -> str | None:
    """maternelle / élémentaire / primaire from the annuaire flags, a hint, the name or the nature code.

    `default` when nothing tells (importers pass None: the stored kind is then kept, and a new
    school gets the model's default, primaire)."""
    if mat in ("1", "0") and ele in ("1", "0") and (mat, ele) != ("0", "0"):
        if mat == "1" and ele == "1":
            return SchoolKind.PRIMAIRE
        return SchoolKind.MATERNELLE if mat == "1" else SchoolKind.ELEMENTAIRE
    h = plain(hint)
    if h.startswith("matern"):
        return SchoolKind.MATERNELLE
    if h.startswith("element"):
        return SchoolKind.ELEMENTAIRE
    if h.startswith("primaire"):
        return SchoolKind.PRIMAIRE
    n = plain(name)
    has_mat, has_ele = "matern" in n, "element" in n
    if has_mat and not has_ele:
        return SchoolKind.MATERNELLE
    if has_ele and not has_mat:
        return SchoolKind.ELEMENTAIRE
    if "primaire" in n or (has_mat and has_ele) or "groupe scolaire" in n:
        return SchoolKind.PRIMAIRE
    if nature[:2] == "10" or nature[:2] == "11":
        return SchoolKind.MATERNELLE
    return default


_SECONDARY_NAME = re.compile(r"^(college|lycee|erea|cite scolaire|lp |lgt|lpo)")


def category_of(nature: str = "", type_label: str = "", name: str = "", nature_label: str = "") -> str:
    """'ecole', 'secondary' (collège, lycée, EREA) or 'other' (services, CIO, médico-social…)."""
    if nature[:1].isdigit():
        if nature[0] == "1":
            return "ecole"
        if nature[0] == "3":
            return "secondary"
        return "other"
    t = plain(type_label)
    if t:
        if t.startswith("ecole"):
            return "ecole"
        if t.startswith(("college", "lycee", "erea")):
            return "secondary"
        return "other"
    n = plain(nature_label or name).strip()
    if _SECONDARY_NAME.match(n):
        return "secondary"
    return "ecole"


def sector_from(value: str) -> str | None:
    v = plain(value)
    if not v:
        return None
    if v.startswith("pu"):
        return Sector.PUBLIC
    if v.startswith("pr"):
        return Sector.PRIVATE
    raise BadValue(f"« {value} » : « Public » ou « Privé » attendu")


def contract_from(label: str, code: str = "") -> str | None:
    v = plain(label)
    if not v and not code:
        return None
    if "association" in v or code in ("30", "31"):
        return Contract.ASSOCIATION
    if "simple" in v or code in ("20", "21"):
        return Contract.SIMPLE
    if "hors contrat" in v or code == "10":
        return Contract.OUTSIDE
    return Contract.NONE


_STATE_FIELDS = ("closed_on", "contract")


def _cut(fld: str, value: str) -> str:
    return value[: _MAX[fld]] if fld in _MAX else value


# --------------------------------------------------------------------------- row parsing per format


def parse_school_row(fmt: str, get, row) -> dict:
    """Name, kind and category (école / secondary / other) of a row of formats 1, 2, 4, 5."""
    rec: dict = {}
    name = get(row, "name")
    if fmt == "geoloc" and not name:
        name = " ".join(x for x in (get(row, "denomination"), get(row, "patronyme")) if x)
    rec["name"] = _cut("name", name)
    nature = get(row, "nature")
    rec["_category"] = category_of(nature, get(row, "type"), name, get(row, "nature_label"))
    if fmt == "annuaire":
        rec["kind"] = kind_from(name, nature, get(row, "mat"), get(row, "ele"), default=None)
    elif fmt == "loire":
        rec["kind"] = kind_from(name, nature, hint=get(row, "level"), default=None)
    else:
        rec["kind"] = kind_from(name, nature, hint=get(row, "nature_label"), default=None)
    return rec


class RowProblem(Exception):
    def __init__(self, fld: str, message: str):
        self.fld, self.message = fld, message
        super().__init__(message)


def _val(fn, fld, *args):
    try:
        return fn(*args)
    except BadValue as exc:
        raise RowProblem(fld, str(exc)) from None


def school_record(fmt: str, table, get, row, rec: dict) -> dict:
    """Complete `rec` (from parse_school_row) with the validated fields the format carries; RowProblem if bad."""
    if not rec["name"]:
        raise RowProblem("name", "nom de l'école vide : un nom est attendu")
    has = table.has
    if has("status"):
        s = _val(sector_from, "status", get(row, "status"))
        if s:
            rec["sector"] = s
            if s == Sector.PUBLIC:
                rec["contract"] = Contract.NONE
    if has("contract_label") or has("contract_code"):
        c = contract_from(get(row, "contract_label"), get(row, "contract_code"))
        if rec.get("sector") == Sector.PRIVATE and c is not None:
            rec["contract"] = c
    if has("address1"):
        rec["address"] = _cut("address", " ".join(x for x in (get(row, "address1"), get(row, "address2")) if x))
    if has("postal_code"):
        pc = get(row, "postal_code")
        if pc and not re.fullmatch(r"\d{4,5}", pc):
            raise RowProblem("postal_code", f"code postal « {pc} » invalide : 5 chiffres attendus")
        rec["postal_code"] = pc.zfill(5) if pc else ""
    if has("lat") and has("lon"):
        lat = _val(parse_float, "lat", get(row, "lat"), -90, 90, "une latitude")
        lon = _val(parse_float, "lon", get(row, "lon"), -180, 180, "une longitude")
        rec["lat"], rec["lon"] = lat, lon
    if has("pupils"):
        rec["pupils"] = _val(parse_int, "pupils", get(row, "pupils"), "un nombre d'élèves")
    if has("ips"):
        ips = get(row, "ips") or (get(row, "ips_old") if has("ips_old") else "")
        rec["ips"] = _val(parse_decimal, "ips", ips, "un IPS")
    if has("phone"):
        rec["phone"] = _cut("phone", get(row, "phone"))
    if has("email"):
        mail = get(row, "email")
        rec["email"] = mail if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", mail or "") and len(mail) <= 254 else ""
    if has("website"):
        web = get(row, "website")
        if web and not web.lower().startswith(("http://", "https://")):
            web = "https://" + web
        rec["website"] = web if len(web) <= 200 and " " not in web else ""
    if has("opened_on"):
        rec["opened_on"] = _val(parse_date, "opened_on", get(row, "opened_on"), "une date d'ouverture")
    if has("circonscription"):
        rec["_circonscription"] = get(row, "circonscription")[:200]
    # Closing: an explicit date, or the state FERME.
    closing = None
    if has("closed_on"):
        closing = _val(parse_date, "closed_on", get(row, "closed_on"), "une date de fermeture")
    state = plain(get(row, "state")) if has("state") else ""
    if closing is None and state.startswith("ferme"):
        closing = (_val(parse_date, "updated_on", get(row, "updated_on"), "une date") if has("updated_on") else None) \
            or timezone.localdate()
    if has("closed_on") or has("state"):
        rec["closed_on"] = closing
    return rec


# --------------------------------------------------------------------------- classes from the effectifs file


def apportion(n: int, weights: list[float], minimum_one: bool = True) -> list[int] | None:
    """n seats among weights (largest remainder), at least one per non-zero weight; None if impossible."""
    idx = [i for i, w in enumerate(weights) if w > 0]
    out = [0] * len(weights)
    if n <= 0 or not idx:
        return out
    if minimum_one and n < len(idx):
        return None
    total = sum(weights[i] for i in idx)
    quotas = {i: n * weights[i] / total for i in idx}
    for i in idx:
        out[i] = max(1 if minimum_one else 0, int(quotas[i]))
    while sum(out) > n:  # minimum ones pushed us over: take from the most over-served
        i = max((i for i in idx if out[i] > 1), key=lambda i: out[i] - quotas[i])
        out[i] -= 1
    while sum(out) < n:
        i = max(idx, key=lambda i: (quotas[i] - out[i], -i))
        out[i] += 1
    return out


def split(total: int, parts: int) -> list[int]:
    if parts <= 0:
        return []
    base, extra = divmod(max(total, 0), parts)
    return [base + (1 if k < extra else 0) for k in range(parts)]


def distribute_classes(n: int, pre: int, ele: int, ulis: int, levels: list[int], kind: str = "") -> list[tuple[str, int]]:
    """N classes -> [(level, pupils)] in the order maternelle, élémentaire, ULIS."""
    if n <= 0:
        return []
    out: list[tuple[str, int]] = []
    ulis_classes = 1 if ulis > 0 and (n >= 2 or (pre + ele) == 0) else 0
    rest = n - ulis_classes
    if pre + ele == 0:
        mat_n, ele_n = (rest, 0) if kind == SchoolKind.MATERNELLE else (0, rest)
    elif rest == 1 and pre and ele:
        mat_n, ele_n = (1, 0) if pre > ele else (0, 1)
        pre, ele = (pre + ele, 0) if pre > ele else (0, pre + ele)
    else:
        mat_n, ele_n = apportion(rest, [pre, ele]) or (0, rest)
    if mat_n:
        if mat_n >= 3:
            counts = apportion(mat_n, [1, 1, 1])
            pupils = split(pre, mat_n)
            names = [lv for lv, c in zip((Level.PS, Level.MS, Level.GS), counts, strict=True) for _ in range(c)]
            out += list(zip(names, pupils, strict=True))
        else:
            out += [(Level.MATERNELLE, p) for p in split(pre, mat_n)]
    if ele_n:
        counts = apportion(ele_n, levels) if sum(levels) else None
        if counts:
            for lv, c, p in zip((Level.CP, Level.CE1, Level.CE2, Level.CM1, Level.CM2), counts, levels, strict=True):
                out += [(lv, q) for q in split(p, c)]
        else:
            out += [(Level.ELEMENTAIRE, p) for p in split(ele, ele_n)]
    if ulis_classes:
        out.append((Level.ULIS, ulis))
    return out


# --------------------------------------------------------------------------- the importer


class _Context:
    """The database state the rows are compared with, read in a few queries.

    `schools` starts with the few fields every step needs; `load_schools(fields)` reads the
    fields a file actually carries, once its rows are parsed (a national file: 30,000 rows).
    """

    BASE = ("id", "uai", "name", "kind", "closed_on")

    def __init__(self):
        self.communes = {}
        former: dict[str, tuple[int, str] | None] = {}
        for insee, pk, department, former_codes in Commune.objects.order_by().values_list(
                "insee", "id", "department", "former_codes"):
            self.communes[insee] = (pk, department)
            if former_codes:
                for code in former_codes.split():
                    # Claimed by two communes (a split after a merger): ambiguous, resolved to neither.
                    former[code] = (pk, department) if code not in former else None
        # Former INSEE codes (communes merged into a commune nouvelle) that are no current code.
        self.former = {code: c for code, c in former.items() if c is not None and code not in self.communes}
        self._uais: set[str] | None = None
        self.schools: dict[str, dict] = {}
        self.circs = dict(Circonscription.objects.order_by().values_list("name", "id"))

    @property
    def uais(self) -> set[str]:
        """The UAIs in the database, read when first needed (closed schools only)."""
        if self._uais is None:
            self._uais = set(School.objects.order_by().values_list("uai", flat=True))
        return self._uais

    def load_schools(self, fields=()) -> None:
        wanted = [f for f in SCHOOL_FIELDS if f in fields and f not in self.BASE]
        self.schools = {s["uai"]: s for s in School.objects.order_by().values(*self.BASE, *wanted)}

    def commune(self, insee: str):
        """(id, department) of a current code, an arrondissement's commune or a commune nouvelle; else None."""
        return (self.communes.get(insee) or self.communes.get(ARRONDISSEMENTS.get(insee, ""))
                or self.former.get(insee))


def import_schools(paths: list, *, include_all: bool = False, include_secondary: bool = False, user=None,
                   progress: Progress | None = None, names: dict | None = None,
                   max_bytes: int | None = MAX_FILE_BYTES) -> list[Report]:
    reports: list[Report] = []
    errors: list[RowError] = []
    if not paths:
        raise ImportFailed([RowError("—", None, None, "aucun fichier à importer")])
    with transaction.atomic():
        for path in paths:
            name = display_name(path, names)
            report = Report(kind="unknown", file=name)
            reports.append(report)
            try:
                table = open_table(path, name, FORMATS, "un fichier d'écoles", max_bytes)
            except FileError as exc:
                report.errors.append(exc.error)
                errors.append(exc.error)
                continue
            report.kind = table.fmt.key
            report.notes += table.notes
            ctx = _Context()
            if table.fmt.key == "effectifs":
                _import_classes(table, ctx, report, include_all, user, progress, write=not errors)
            else:
                _import_school_file(table, ctx, report, include_all, include_secondary, user, progress,
                                    write=not errors)
            errors += report.errors
        if errors:
            raise ImportFailed(errors, reports)
    return reports


def _import_school_file(table, ctx: _Context, report: Report, include_all: bool, include_secondary: bool, user,
                        progress, write: bool) -> None:
    fmt = table.fmt.key
    get = table.getter()
    name = table.name
    rows = list(table.rows())
    ticker = Ticker(progress, len(rows), f"{name} : lecture")
    incoming: dict[str, tuple[int, dict]] = {}
    outside = secondary = other = closed_unknown = duplicates = merged = 0
    former = ctx.former
    for line, row in rows:
        ticker.tick()
        if isinstance(row, RowTooLong):
            report.errors.append(RowError(name, line, None, row.message(table.delimiter)))
            continue
        # What kind of establishment first: rows skipped anyway are not validated.
        rec = parse_school_row(fmt, get, row)
        cat = rec.pop("_category")
        if cat == "other":
            other += 1
            continue
        if cat == "secondary" and not include_secondary:
            secondary += 1
            continue
        uai = normalize_uai(get(row, "uai"))
        err = uai_error(uai)
        if err:
            report.errors.append(RowError(name, line, table.label("uai"), err))
            continue
        try:
            rec = school_record(fmt, table, get, row, rec)
        except RowProblem as exc:
            report.errors.append(RowError(name, line, table.label(exc.fld), exc.message))
            continue
        # An empty cell leaves the stored value as is (files complete each other); closing and
        # contract are states, kept even when empty.
        rec = {k: v for k, v in rec.items() if (v is not None and v != "") or k in _STATE_FIELDS}
        raw_insee = get(row, "commune")
        insee = normalize_insee(raw_insee)
        err = insee_error(insee)
        if err:
            report.errors.append(RowError(name, line, table.label("commune"), err))
            continue
        commune = ctx.commune(insee)
        if commune is None:
            if include_all:
                report.errors.append(RowError(
                    name, line, table.label("commune"),
                    f"commune « {insee} » inconnue de la base : importez d'abord le territoire "
                    f"(preau import-territory), ou importez sans l'option --all (« garder les écoles hors des "
                    f"communes importées »)"))
            else:
                outside += 1
            continue
        if uai in incoming:
            duplicates += 1
            continue
        rec["commune_id"] = commune[0]
        rec["_department"] = commune[1]
        if rec.get("closed_on") and uai not in ctx.uais:
            closed_unknown += 1
            continue
        incoming[uai] = (line, rec)
        if insee in former and commune is former[insee]:
            merged += 1
    report.rejected = len({e.line for e in report.errors})
    if merged:
        report.notes.append(f"{merged} école(s) rattachée(s) à leur commune nouvelle (ancien code INSEE)")
    if outside:
        report.notes.append(f"{outside} établissement(s) hors des communes importées ignoré(s)")
    if secondary:
        report.notes.append(f"{secondary} collège(s)/lycée(s) ignoré(s) (option « --secondary » pour les garder)")
    if other:
        report.notes.append(f"{other} structure(s) qui ne sont pas des écoles (services, CIO…) ignorée(s)")
    if closed_unknown:
        report.notes.append(f"{closed_unknown} école(s) fermée(s) absente(s) de la base ignorée(s)")
    if duplicates:
        report.notes.append(f"{duplicates} ligne(s) en double (même UAI) ignorée(s)")
    report.skipped = outside + secondary + other + closed_unknown + duplicates
    if report.errors or not write:
        return

    # Circonscriptions first (created in bulk, audited).
    wanted_circs = {}
    for _line, rec in incoming.values():
        circ = rec.get("_circonscription")
        if circ and circ not in ctx.circs:
            wanted_circs.setdefault(circ, rec["_department"])
    if wanted_circs:
        up = Upsert(Circonscription, "name", {}, user, f"import {name}")
        for circ, dept in sorted(wanted_circs.items()):
            up.add(circ, {"department": dept})
        for obj in up.save():
            ctx.circs[obj.name] = obj.pk
        report.notes.append(f"{len(wanted_circs)} circonscription(s) créée(s)")

    fields = {"circonscription_id", "source"}
    for _line, rec in incoming.values():
        fields.update(rec)
    ctx.load_schools(fields)
    up = Upsert(School, "uai", ctx.schools, user, f"import {name}")
    closed = 0
    ticker = Ticker(progress, len(incoming), f"{name} : écoles")
    for uai, (_line, rec) in incoming.items():
        ticker.tick()
        rec.pop("_department")
        circ = rec.pop("_circonscription", None)
        if circ is not None:
            rec["circonscription_id"] = ctx.circs.get(circ) if circ else None
        old = ctx.schools.get(uai)
        if old is None:
            rec["source"] = fmt
        result = up.add(uai, rec)
        if result == "updated" and old is not None and old["closed_on"] is None and rec.get("closed_on"):
            closed += 1
    up.save()
    report.created = up.created
    report.updated = up.updated - closed
    report.unchanged = up.unchanged
    report.closed = closed
    ticker.finish(f"{name} : {len(incoming)} écoles")


CLASS_FIELDS = ["level", "pupils"]
_CLASS_NAME = re.compile(r"^Classe (\d+)$")


def _import_classes(table, ctx: _Context, report: Report, include_all: bool, user, progress, write: bool) -> None:
    ctx.load_schools()
    get = table.getter()
    name = table.name
    rows = list(table.rows())
    ticker = Ticker(progress, len(rows), f"{name} : lecture")
    plans: dict[tuple[int, int], list[tuple[str, int]]] = {}
    pupils_by_school: dict[str, tuple[int, int]] = {}  # uai -> (year, pupils) of the latest year
    unknown = 0
    for line, row in rows:
        ticker.tick()
        if isinstance(row, RowTooLong):
            report.errors.append(RowError(name, line, None, row.message(table.delimiter)))
            continue
        uai = normalize_uai(get(row, "uai"))
        err = uai_error(uai)
        if err:
            report.errors.append(RowError(name, line, table.label("uai"), err))
            continue
        try:
            raw_year = get(row, "year")
            m = re.match(r"^(\d{4})", raw_year)
            if not m or not 1990 <= int(m.group(1)) <= 2100:
                raise RowProblem("year", f"« {raw_year} » : une année de rentrée est attendue (ex. 2025)")
            year = int(m.group(1))
            n = _val(parse_int, "classes", get(row, "classes"), "un nombre de classes")
            if n is None:
                raise RowProblem("classes", "nombre de classes vide : un nombre est attendu")
            if n > 99:
                raise RowProblem("classes", f"{n} classes : au plus 99 attendues")
            total = _val(parse_int, "pupils", get(row, "pupils"), "un nombre d'élèves") or 0
            counts = {}
            for fld in ("pre", "ele", "ulis", "cp", "ce1", "ce2", "cm1", "cm2"):
                counts[fld] = _val(parse_int, fld, get(row, fld), "un nombre d'élèves") or 0
        except RowProblem as exc:
            report.errors.append(RowError(name, line, table.label(exc.fld), exc.message))
            continue
        school = ctx.schools.get(uai)
        if school is None:
            if include_all:
                report.errors.append(RowError(name, line, table.label("uai"),
                                              f"école « {uai} » inconnue de la base : importez d'abord l'annuaire "
                                              f"ou le fichier des écoles (ce fichier n'a pas de code INSEE)"))
            else:
                unknown += 1
            continue
        if (school["id"], year) in plans:
            report.errors.append(RowError(name, line, table.label("uai"),
                                          f"école « {uai} » en double pour la rentrée {year}"))
            continue
        if counts["pre"] + counts["ele"] + counts["ulis"] == 0 and total:
            counts["ele" if school["kind"] != SchoolKind.MATERNELLE else "pre"] = total
        levels = [counts[k] for k in ("cp", "ce1", "ce2", "cm1", "cm2")]
        plans[(school["id"], year)] = distribute_classes(n, counts["pre"], counts["ele"], counts["ulis"], levels,
                                                        school["kind"])
        if uai not in pupils_by_school or pupils_by_school[uai][0] <= year:
            pupils_by_school[uai] = (year, total)
    report.rejected = len({e.line for e in report.errors})
    if unknown:
        report.skipped = unknown
        report.notes.append(f"{unknown} école(s) absente(s) de la base ignorée(s) (importez d'abord l'annuaire)")
    if report.errors or not write or not plans:
        return

    school_ids = {sid for sid, _y in plans}
    years = {y for _sid, y in plans}
    existing = {}
    for c in filter_in(SchoolClass.objects.order_by().filter(year__in=years).values(
            "id", "school_id", "year", "name", *CLASS_FIELDS), "school_id", school_ids):
        if (c["school_id"], c["year"]) in plans:
            existing[(c["school_id"], c["year"], c["name"])] = c
    note = f"import {name}"
    to_create, to_update, changes, unchanged = [], [], [], 0
    wanted_keys = set()
    for (sid, year), plan in plans.items():
        for k, (level, pupils) in enumerate(plan, start=1):
            key = (sid, year, f"Classe {k}")
            wanted_keys.add(key)
            old = existing.get(key)
            vals = {"level": str(level), "pupils": pupils}
            if old is None:
                to_create.append(SchoolClass(school_id=sid, year=year, name=key[2], **vals))
            else:
                diff = {f: v for f, v in vals.items() if old[f] != v}
                if diff:
                    obj = SchoolClass(id=old["id"], school_id=sid, year=year, name=key[2], **vals)
                    to_update.append(obj)
                    changes.append((obj, {f: old[f] for f in diff}, diff))
                else:
                    unchanged += 1
    extra = [c for key, c in existing.items() if key not in wanted_keys and _CLASS_NAME.match(key[2])]
    entries = []
    if to_create:
        fast_insert(SchoolClass, to_create, key_field=("school_id", "year", "name"))
        entries += [audit.entry(user, AuditEntry.Action.IMPORT, o, None,
                                {"school_id": o.school_id, "year": o.year, "name": o.name, "level": o.level,
                                 "pupils": o.pupils}, note) for o in to_create]
    if to_update:
        fast_update(SchoolClass, to_update, CLASS_FIELDS)
        entries += [audit.entry(user, AuditEntry.Action.IMPORT, o, b, a, note) for o, b, a in changes]
    if extra:
        delete_in(SchoolClass, [c["id"] for c in extra])
        entries += [audit.entry(user, AuditEntry.Action.DELETE,
                                SchoolClass(id=c["id"], school_id=c["school_id"], year=c["year"], name=c["name"]),
                                {k: jsonable(c[k]) for k in ("school_id", "year", "name", "level", "pupils")}, None,
                                note) for c in extra]
        report.notes.append(f"{len(extra)} classe(s) en trop supprimée(s)")
    # School.pupils from the latest year of the file.
    ctx.load_schools({"pupils"})
    sup = Upsert(School, "uai", ctx.schools, user, note)
    for uai, (_year, total) in pupils_by_school.items():
        sup.add(uai, {"pupils": total})
    sup.save()
    if sup.updated:
        report.notes.append(f"effectif mis à jour pour {sup.updated} école(s)")
    write_audit(entries)
    report.created, report.updated, report.unchanged = len(to_create), len(to_update), unchanged
    report.notes.append(f"{len(wanted_keys)} classe(s) pour {len(plans)} école(s), rentrée(s) "
                        f"{', '.join(f'{y}-{y + 1}' for y in sorted(years))}")
    ticker.finish(f"{name} : classes")
