"""Import of fleet assets from a CSV or XLSX file: the fleet's state of record (docs/fleet-import.md).

    import_assets(path, *, user=None, create_models=False, dry_run=False, progress=None, names=None,
                  max_bytes=MAX_FILE_BYTES) -> Report

Same code behind `preau import-assets` and the web upload (job "fleet.import"). Built on the
territory importers' machinery (preau.territory.importers.base): size checked before reading,
encoding and CSV delimiter detection, header found among the first lines and columns matched
by normalized name, every error collected with file, line and column, then one transaction.

- All or nothing: any bad row raises ImportFailed listing every problem; nothing is written.
- Idempotent: a row equal to the stored asset counts as unchanged and writes nothing.
- An existing tag updates the asset with the cells the file gives; an empty cell keeps the stored
  value. The place (UAI école, classe, site) is one value: all three empty keep the stored place.
- The status is set directly: an import records the state of record, it is not a lifecycle
  transition (the timeline says "import"). Assets in a batch under way cannot change status
  or place by import.
- A deployed (or failed) asset put in a class takes a free slot of its category in that class, if
  there is one; an asset leaving its class, or service, frees its slot.
- Fast: references and existing assets are read in a few queries, new assets, timeline events and
  audit entries are written with executemany (fast_insert), changes with fast_update.
"""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from preau.core import audit, maintenance
from preau.core.models import AuditEntry
from preau.territory.codes import normalize_uai
from preau.territory.importers.base import (
    HEADER_SCAN_LINES,
    MAX_FILE_BYTES,
    BadValue,
    FileError,
    Format,
    ImportFailed,
    Progress,
    Report,
    RowError,
    RowTooLong,
    Table,
    Ticker,
    Upsert,
    decode,
    detect,
    display_name,
    fast_insert,
    fast_update,
    norm,
    parse_date,
    parse_decimal,
    plain,
    read_bytes,
    write_audit,
)
from preau.territory.importers.schools import C
from preau.territory.models import School, SchoolClass, current_school_year

from .lifecycle import IN_PLACE, Status
from .models import (
    Asset,
    AssetEvent,
    BatchItem,
    Category,
    DeviceModel,
    Origin,
    RequalificationBatch,
    Site,
    Slot,
)

KIND = "appareils"
MAX_ROWS = 1_000_000

TAG = C("tag", "numéro d'inventaire", "numero inventaire", "n° d'inventaire", "n° inventaire", "n inventaire",
        "inventaire", "tag", "étiquette", required=True)
# Any spelling of the inventory number column in a header line means "this is the assets file".
FORMAT = Format(KIND, "Appareils du parc", TAG.aliases, [
    TAG,
    C("serial", "numéro de série", "numero serie", "n° de série", "n serie", "série", "serial", "sn"),
    C("category", "catégorie", "type", "type d'appareil"),
    C("maker", "fabricant", "marque", "constructeur"),
    C("model", "modèle", "model", "référence"),
    C("status", "statut", "état"),
    C("school", "UAI école", "uai", "uai de l'école", "code uai", "école"),
    C("school_class", "classe"),
    C("site", "site", "dépôt", "atelier"),
    C("purchased_on", "date d'achat", "achat", "acheté le", "date achat"),
    C("warranty_until", "fin de garantie", "garantie", "garantie jusqu'au", "fin garantie"),
    C("cost", "coût", "cout (€)", "coût (€)", "coût HT", "prix", "montant"),
    C("origin", "origine"),
    C("hostname", "nom de machine", "nom d'hôte", "hostname", "nom réseau"),
    C("notes", "notes", "remarques", "commentaire", "commentaires"),
])

# Accepted words besides each choice's value and French label (normalized with base.norm).
CATEGORY_ALIASES = {
    "pc": Category.DESKTOP, "pc_de_bureau": Category.DESKTOP, "ordinateur_fixe": Category.DESKTOP,
    "fixe": Category.DESKTOP, "portable": Category.LAPTOP, "ordinateur_portable": Category.LAPTOP,
    "client_leger": Category.THIN_CLIENT, "vpi": Category.PROJECTOR, "videoprojecteur": Category.PROJECTOR,
    "ecran": Category.SCREEN, "eni": Category.SCREEN, "tablette": Category.TABLET,
    "valise": Category.TABLET_CART, "chariot": Category.TABLET_CART, "classe_mobile": Category.TABLET_CART,
    "commutateur": Category.SWITCH, "borne_wifi": Category.ACCESS_POINT, "wifi": Category.ACCESS_POINT,
    "point_d_acces": Category.ACCESS_POINT, "imprimante": Category.PRINTER, "robot": Category.ROBOT_KIT,
    "robotique": Category.ROBOT_KIT,
}
STATUS_ALIASES = {"stock": Status.IN_STOCK, "recycle": Status.RECYCLED, "deee": Status.RECYCLED,
                  "perdu": Status.LOST, "vole": Status.LOST, "panne": Status.FAILED, "reforme": Status.RETIRED,
                  "en_service": Status.DEPLOYED}
ORIGIN_ALIASES = {"achat": Origin.PURCHASED, "don": Origin.DONATED, "dotation": Origin.DONATED}

FIELDS = ["serial", "model_id", "category", "status", "origin", "school_id", "school_class_id", "site_id",
          "purchased_on", "warranty_until", "cost", "hostname", "notes"]
PLACE = ("school_id", "school_class_id", "site_id")
MAX_LENGTH = {"tag": 32, "serial": 80, "hostname": 80}
COST_MAX = Decimal("9999999.99")
_DEPOT = "__depot__"  # placeholder site id: the default depot, created at write time if there is none


class AssetReport(Report):
    """Counts are assets (created, updated, unchanged, rejected rows)."""

    def summary(self) -> str:
        text = (_("%(file)s (appareils du parc) : %(c)s créé(s), %(u)s modifié(s), %(n)s inchangé(s), "
                  "%(r)s rejeté(s)")
                % {"file": self.file, "c": self.created, "u": self.updated, "n": self.unchanged, "r": self.rejected})
        if self.notes:
            text += " — " + " ; ".join(self.notes)
        return text


class Choices:
    """A French cell (value, label or alias, any case or accents) to a choice value; memoized."""

    def __init__(self, choices, aliases: dict):
        self.lookup = {}
        for value, label in choices:
            value = str(value)
            self.lookup[norm(value)] = value
            self.lookup[norm(str(label))] = value
            head = str(label).split("(")[0].split("/")[0]
            self.lookup.setdefault(norm(head), value)
        self.lookup.update({k: str(v) for k, v in aliases.items()})
        self.labels = ", ".join(str(label) for _v, label in choices)
        self.memo: dict[str, str | None] = {}

    def __call__(self, text: str) -> str | None:
        try:
            return self.memo[text]
        except KeyError:
            value = self.memo[text] = self.lookup.get(norm(text))
            return value


# --------------------------------------------------------------------------- reading CSV and XLSX


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return _("oui") if value else _("non")
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


class XlsxTable(Table):
    """The first worksheet whose first lines hold the header, read row by row (openpyxl read_only)."""

    def __init__(self, name: str, header: list[str], header_line: int, rows, workbook, sheet: str, total: int):
        super().__init__(name, FORMAT, "", header, header_line, None, None)
        self._iter = rows
        self._workbook = workbook
        self.sheet = sheet
        self.total = total

    def rows(self):
        width = len(self.header)
        line = self.header_line
        try:
            for raw in self._iter:
                line += 1
                row = [_cell(v) for v in raw[:width]]
                if not any(v.strip() for v in row):
                    continue
                if len(row) < width:
                    row += [""] * (width - len(row))
                yield line, row
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise FileError(self.name, _("classeur XLSX abîmé, illisible à partir de la ligne %(l)s : %(e)s")
                            % {"l": line, "e": exc}, line=line) from None
        finally:
            self._workbook.close()


def _open_xlsx(data: bytes, name: str) -> XlsxTable:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, TypeError) as exc:
        raise FileError(name, _("classeur XLSX illisible (fichier abîmé, ou archive ZIP qui n'est pas un classeur "
                                "Excel .xlsx ; un classeur .ods ou .xls s'enregistre en .xlsx ou en CSV) : %(e)s")
                        % {"e": exc}) from None
    required = [c for c in FORMAT.columns if c.required]
    for sheet in workbook.worksheets:
        rows = sheet.iter_rows(values_only=True)
        for lineno in range(1, HEADER_SCAN_LINES + 1):
            raw = next(rows, None)
            if raw is None:
                break
            cells = [_cell(v).strip() for v in raw]
            normalized = {norm(c) for c in cells if c}
            if not any(m in normalized for m in FORMAT.markers):
                continue
            missing = [c for c in required if not any(a in normalized for a in c.aliases)]
            if missing:
                workbook.close()
                raise FileError(name, _("colonne obligatoire absente : %(c)s")
                                % {"c": ", ".join(f"« {c.label} »" for c in missing)}, line=lineno)
            while cells and not cells[-1]:
                cells.pop()
            total = max((sheet.max_row or 0) - lineno, 0)
            return XlsxTable(name, cells, lineno, rows, workbook, sheet.title, total)
    workbook.close()
    raise FileError(name, _("aucune feuille du classeur n'a d'en-tête reconnu dans ses %(n)s premières lignes : "
                            "la colonne « numéro d'inventaire » est obligatoire")
                    % {"n": HEADER_SCAN_LINES})


def open_assets_table(path, name: str, max_bytes: int | None) -> tuple[Table, int]:
    """(table, estimated number of data rows): an XLSX workbook or a CSV file, recognised by content."""
    data = read_bytes(path, name, max_bytes)
    if data.startswith(b"PK\x03\x04"):
        table = _open_xlsx(data, name)
        return table, table.total
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileError(name, _("classeur Excel 97-2003 (.xls) : enregistrez-le au format .xlsx ou CSV"))
    text, note = decode(data, name)
    if not text.strip():
        raise FileError(name, _("fichier vide"))
    table = detect(text, name, [FORMAT], _("le fichier des appareils"), note)
    return table, max(text.count("\n") - table.header_line, 1)


# --------------------------------------------------------------------------- import


def import_assets(path, *, user=None, create_models: bool = False, dry_run: bool = False,
                  progress: Progress | None = None, names: dict | None = None,
                  max_bytes: int | None = MAX_FILE_BYTES) -> Report:
    name = display_name(path, names)
    report = AssetReport(kind=KIND, file=name)
    try:
        table, estimate = open_assets_table(path, name, max_bytes)
        parsed = _Parser(table, name, report, create_models).parse(Ticker(progress, estimate,
                                                                          _("%(f)s : lecture") % {"f": name}))
    except FileError as exc:
        report.errors.append(exc.error)
        report.rejected = len({e.line for e in report.errors if e.line is not None})
        raise ImportFailed(report.errors, [report]) from None
    report.notes += table.notes
    if isinstance(table, XlsxTable):
        report.notes.append(_("feuille « %(s)s »") % {"s": table.sheet})
    report.rejected = len({e.line for e in report.errors})
    if report.errors:
        raise ImportFailed(report.errors, [report])
    with transaction.atomic():
        _write(parsed, report, user, name, progress)
        if dry_run:
            transaction.set_rollback(True)
            report.notes.append(_("simulation : rien n'a été enregistré"))
        else:
            # Fresh planner statistics once the rows are in (SQLite has none until ANALYZE).
            if report.created or report.updated:
                maintenance.analyze_on_commit([Asset, AssetEvent, Slot])
    return report


CHUNK = 900  # values in one SQL IN (...): below SQLite's variable limit


def chunked(values) -> Iterator[list]:
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


class _Row:
    """One row of the file: the values it gives (attnames) and what the second pass checks."""

    __slots__ = ("line", "tag", "values", "ok", "model_given", "model_category", "place_given", "place_error",
                 "class_name")

    def __init__(self, line: int, tag: str):
        self.line, self.tag, self.values, self.ok = line, tag, {}, True
        self.model_given = self.place_given = self.place_error = False
        self.model_category = self.class_name = None


class _Parser:
    """Reads every row, collecting every error with its line and column, in two passes: the first parses
    the cells (no query per row), the second checks them against the assets the file names, read then
    in a few queries (never the whole fleet)."""

    def __init__(self, table: Table, name: str, report: Report, create_models: bool):
        self.table, self.name, self.report, self.create_models = table, name, report, create_models
        self.categories = Choices(Category.choices, CATEGORY_ALIASES)
        self.statuses = Choices(Status.choices, STATUS_ALIASES)
        self.origins = Choices(Origin.choices, ORIGIN_ALIASES)
        self.year = current_school_year()
        self.schools = dict(School.objects.order_by().values_list("uai", "id"))
        self.sites = {plain(n).strip(): sid for sid, n in Site.objects.order_by().values_list("id", "name")}
        self.models = {(plain(m).strip(), plain(n).strip()): (mid, cat) for mid, m, n, cat in
                       DeviceModel.objects.order_by().values_list("id", "maker", "name", "category")}
        self.new_models: dict[tuple, dict] = {}

    def error(self, line: int, field: str | None, message: str) -> None:
        self.report.errors.append(RowError(self.name, line, self.table.label(field) if field else None, message))

    def parse(self, ticker: Ticker) -> dict:
        rows = self.read(ticker)
        existing = self.check(rows)
        self.report.errors.sort(key=lambda e: e.line or 0)
        return {"rows": {r.tag: r.values for r in rows if r.ok}, "new_models": self.new_models,
                "existing": existing}

    # ------------------------------------------------------------------ first pass: the cells

    def read(self, ticker: Ticker) -> list[_Row]:
        get = self.table.getter()
        has_notes = self.table.has("notes")
        errors = self.report.errors
        rows: list[_Row] = []
        lines: dict[str, int] = {}
        serial_lines: dict[str, tuple[str, int]] = {}
        for line, raw in self.table.rows():
            ticker.tick()
            if len(rows) >= MAX_ROWS:
                raise FileError(self.name, _("plus de %(n)s lignes : découpez le fichier") % {"n": MAX_ROWS},
                                line=line)
            if isinstance(raw, RowTooLong):
                self.error(line, None, raw.message(self.table.delimiter))
                continue
            n_errors = len(errors)
            tag = get(raw, "tag")
            if not tag:
                self.error(line, "tag", _("numéro d'inventaire manquant"))
                continue
            if len(tag) > MAX_LENGTH["tag"]:
                self.error(line, "tag", _("« %(v)s » : %(n)s caractères au plus") % {"v": tag, "n": MAX_LENGTH["tag"]})
                continue
            if tag in lines:
                self.error(line, "tag", _("numéro d'inventaire %(tag)s en double dans le fichier (déjà ligne %(l)s)")
                           % {"tag": tag, "l": lines[tag]})
                continue
            lines[tag] = line
            row = _Row(line, tag)
            values = row.values

            serial = get(raw, "serial")
            if serial:
                if len(serial) > MAX_LENGTH["serial"]:
                    self.error(line, "serial", _("« %(v)s » : %(n)s caractères au plus")
                               % {"v": serial, "n": MAX_LENGTH["serial"]})
                elif serial in serial_lines:
                    self.error(line, "serial", _("numéro de série %(s)s en double dans le fichier (déjà ligne %(l)s, "
                                                 "appareil %(tag)s)")
                               % {"s": serial, "l": serial_lines[serial][1], "tag": serial_lines[serial][0]})
                else:
                    serial_lines[serial] = (tag, line)
                    values["serial"] = serial

            category = None
            text = get(raw, "category")
            if text:
                category = self.categories(text)
                if category is None:
                    self.error(line, "category", _("catégorie inconnue « %(v)s » (attendu : %(a)s)")
                               % {"v": text, "a": self.categories.labels})
                else:
                    values["category"] = category

            self._model(row, get(raw, "maker"), get(raw, "model"), category)

            text = get(raw, "status")
            if text:
                status = self.statuses(text)
                if status is None:
                    self.error(line, "status", _("statut inconnu « %(v)s » (attendu : %(a)s)")
                               % {"v": text, "a": self.statuses.labels})
                else:
                    values["status"] = status

            text = get(raw, "origin")
            if text:
                origin = self.origins(text)
                if origin is None:
                    self.error(line, "origin", _("origine inconnue « %(v)s » (attendu : %(a)s)")
                               % {"v": text, "a": self.origins.labels})
                else:
                    values["origin"] = origin

            uai, class_name, site_name = get(raw, "school"), get(raw, "school_class"), get(raw, "site")
            if uai or class_name or site_name:
                row.place_given = True
                before = len(errors)
                self._place(row, uai, class_name, site_name)
                row.place_error = len(errors) > before

            for fld in ("purchased_on", "warranty_until"):
                text = get(raw, fld)
                if text:
                    try:
                        values[fld] = parse_date(text, _("une date"))
                    except BadValue as exc:
                        self.error(line, fld, str(exc))
            if "purchased_on" in values and values["purchased_on"] > date.today():
                self.error(line, "purchased_on", _("date d'achat dans le futur : %(d)s")
                           % {"d": values["purchased_on"].strftime("%d/%m/%Y")})

            text = get(raw, "cost")
            if text:
                try:
                    values["cost"] = parse_decimal(text.replace("€", "").strip(), _("un coût en euros"), "0.01",
                                                   COST_MAX)
                except BadValue as exc:
                    self.error(line, "cost", str(exc))

            text = get(raw, "hostname")
            if text:
                if len(text) > MAX_LENGTH["hostname"]:
                    self.error(line, "hostname", _("« %(v)s » : %(n)s caractères au plus")
                               % {"v": text, "n": MAX_LENGTH["hostname"]})
                else:
                    values["hostname"] = text
            if has_notes:
                text = get(raw, "notes")
                if text:
                    values["notes"] = text
            row.ok = len(errors) == n_errors
            rows.append(row)
        return rows

    def _model(self, row: _Row, maker: str, model_name: str, category: str | None) -> None:
        if not (maker or model_name):
            return
        row.model_given = True
        if not (maker and model_name):
            self.error(row.line, "maker" if not maker else "model",
                       _("fabricant et modèle vont ensemble : les deux sont nécessaires"))
            return
        key = (plain(maker), plain(model_name))
        known = self.models.get(key)
        if known is not None:
            row.values["model_id"], row.model_category = known
        elif not self.create_models:
            self.error(row.line, "model", _("modèle inconnu « %(m)s %(n)s » : ajoutez-le au catalogue, ou importez "
                                            "avec l'option de création des modèles (--create-models)")
                       % {"m": maker, "n": model_name})
        elif category is None and key not in self.new_models:
            self.error(row.line, "category", _("catégorie nécessaire pour créer le modèle « %(m)s %(n)s »")
                       % {"m": maker, "n": model_name})
        else:
            spec = self.new_models.setdefault(key, {"maker": maker[:80], "name": model_name[:120],
                                                    "category": category})
            row.values["model_id"], row.model_category = key, spec["category"]  # the key: resolved once created

    def _place(self, row: _Row, uai: str, class_name: str, site_name: str) -> None:
        line, values = row.line, row.values
        if site_name and (uai or class_name):
            self.error(line, "site", _("un appareil est soit dans une école (ou une classe), soit sur un site, "
                                       "pas les deux"))
        elif site_name:
            site_id = self.sites.get(plain(site_name).strip())
            if site_id is None:
                self.error(line, "site", _("site inconnu « %(v)s »") % {"v": site_name})
            else:
                values.update(school_id=None, school_class_id=None, site_id=site_id)
        elif not uai:
            self.error(line, "school", _("classe « %(c)s » sans école : indiquez l'UAI de l'école")
                       % {"c": class_name})
        else:
            school_id = self.schools.get(normalize_uai(uai))
            if school_id is None:
                self.error(line, "school", _("école inconnue : UAI « %(v)s »") % {"v": uai})
            else:
                values.update(school_id=school_id, school_class_id=None, site_id=None)
                row.class_name = class_name or None  # looked up in the second pass

    # ------------------------------------------------------------------ second pass: against the database

    def check(self, rows: list[_Row]) -> dict:
        existing: dict[str, dict] = {}
        for chunk in chunked(r.tag for r in rows):
            for a in Asset.objects.filter(tag__in=chunk).order_by().values("id", "tag", *FIELDS):
                existing[a["tag"]] = a
        owners: dict[str, str] = {}
        for chunk in chunked(r.values["serial"] for r in rows if "serial" in r.values):
            owners.update(Asset.objects.filter(serial__in=chunk).order_by().values_list("serial", "tag"))
        classes: dict[tuple, int] = {}
        for chunk in chunked({r.values["school_id"] for r in rows if r.class_name}):
            for cid, sid, n in (SchoolClass.objects.filter(year=self.year, school_id__in=chunk).order_by()
                                .values_list("id", "school_id", "name")):
                classes[(sid, plain(n).strip())] = cid
        gone = (RequalificationBatch.State.RETURNED, RequalificationBatch.State.CLOSED)
        busy = dict(BatchItem.objects.exclude(batch__state__in=gone).order_by()
                    .values_list("asset__tag", "batch__reference"))
        errors = self.report.errors
        for row in rows:
            n_errors = len(errors)
            line, values, old = row.line, row.values, existing.get(row.tag)
            serial = values.get("serial")
            if serial and owners.get(serial, row.tag) != row.tag:
                self.error(line, "serial", _("numéro de série %(s)s déjà celui de l'appareil %(tag)s")
                           % {"s": serial, "tag": owners[serial]})
            if row.class_name:
                class_id = classes.get((values["school_id"], plain(row.class_name).strip()))
                if class_id is None:
                    row.place_error = True
                    self.error(line, "school_class", _("classe « %(c)s » inconnue dans l'école %(uai)s pour l'année "
                                                       "scolaire %(y)s-%(y2)s")
                               % {"c": row.class_name, "uai": self._uai(values["school_id"]),
                                  "y": self.year, "y2": self.year + 1})
                else:
                    values["school_class_id"] = class_id
            if old is None:
                if not row.model_given:
                    self.error(line, "maker", _("fabricant et modèle obligatoires pour un nouvel appareil"))
                elif "category" not in values and row.model_category:
                    values["category"] = row.model_category
                values.setdefault("status", Status.IN_STOCK.value)
                if not row.place_given:
                    values.update(school_id=None, school_class_id=None, site_id=_DEPOT)
            status = values.get("status", old and old["status"])
            in_school = values["school_id"] if "school_id" in values else old and old["school_id"]
            if status in IN_PLACE and not in_school and not row.place_error:
                if values.get("site_id") and row.place_given:
                    self.error(line, "site", _("un appareil « %(s)s » est dans une école, pas sur un site")
                               % {"s": Status(status).label})
                else:
                    self.error(line, "school", _("un appareil « %(s)s » est dans une école : indiquez son UAI")
                               % {"s": Status(status).label})
            if {"purchased_on", "warranty_until"} & set(values):
                purchased = values.get("purchased_on", old and old["purchased_on"])
                warranty = values.get("warranty_until", old and old["warranty_until"])
                if purchased and warranty and warranty < purchased:
                    self.error(line, "warranty_until", _("fin de garantie (%(w)s) avant la date d'achat (%(p)s)")
                               % {"w": warranty.strftime("%d/%m/%Y"), "p": purchased.strftime("%d/%m/%Y")})
            if old is not None and row.tag in busy:
                moving = [f for f in ("status", *PLACE) if f in values and values[f] != old[f]]
                if moving:
                    self.error(line, "status" if "status" in moving else "school",
                               _("l'appareil est dans le lot en cours %(ref)s : son statut et son lieu changent par "
                                 "le lot, pas par un import") % {"ref": busy[row.tag]})
            row.ok = row.ok and len(errors) == n_errors
        return existing

    def _uai(self, school_id: int) -> str:
        if not hasattr(self, "_uai_of"):
            self._uai_of = {sid: uai for uai, sid in self.schools.items()}
        return self._uai_of.get(school_id, "")


def _write(parsed: dict, report: Report, user, name: str, progress: Progress | None) -> None:
    rows, existing = parsed["rows"], parsed["existing"]
    note = _("import %(f)s") % {"f": name}
    ticker = Ticker(progress, 4, _("%(f)s : enregistrement") % {"f": name}, every=1)
    entries: list[AuditEntry] = []

    # Device models first (only with create_models).
    model_ids = {}
    if parsed["new_models"]:
        specs = list(parsed["new_models"].items())
        created = DeviceModel.objects.bulk_create(
            [DeviceModel(category=s["category"], maker=s["maker"], name=s["name"]) for _k, s in specs])
        if any(m.pk is None for m in created):  # backends that do not return ids
            ids = {(m, n): pk for pk, m, n in DeviceModel.objects.values_list("pk", "maker", "name")}
            for m in created:
                m.pk = ids[(m.maker, m.name)]
        for (key, _s), model in zip(specs, created, strict=True):
            model_ids[key] = model.pk
            entries.append(audit.entry(user, AuditEntry.Action.IMPORT, model, None, audit.snapshot(model), note))
        report.notes.append(_("%(n)s modèle(s) d'appareil créé(s) : %(m)s")
                            % {"n": len(created), "m": ", ".join(str(m) for m in created[:10])
                               + (" …" if len(created) > 10 else "")})
    depot_id = None
    if any(v.get("site_id") == _DEPOT for v in rows.values()):
        from .services import default_depot

        depot_id = default_depot().pk
    ticker.tick()

    up = Upsert(Asset, "tag", existing, user, note)
    outcome: dict[str, str] = {}
    for tag, values in rows.items():
        if isinstance(values.get("model_id"), tuple):
            values["model_id"] = model_ids[values["model_id"]]
        if values.get("site_id") == _DEPOT:
            values["site_id"] = depot_id
        outcome[tag] = up.add(tag, values)
    now = timezone.now()
    for obj in up.to_update:
        obj.updated_at = now
    created = up.save(extra_update_fields=["updated_at"])
    write_audit(entries)
    report.created, report.updated, report.unchanged = up.created, up.updated, up.unchanged
    ticker.tick()

    changed_by_id = {obj.pk: after for obj, _before, after in up.changes}
    slot_of = _slots(created, up.to_update, changed_by_id, report)
    ticker.tick()

    user_id = user.pk if getattr(user, "is_authenticated", False) else None
    reason = note[:300]
    events = []
    for obj in created:
        details = {"import": name}
        if obj.pk in slot_of:
            details["slot"] = slot_of[obj.pk]
        events.append(_event(obj.pk, user_id, AssetEvent.Kind.CREATED, "", obj.status, reason, details))
    for obj, before, after in up.changes:
        details = {"import": name, "fields": sorted(after)}
        if obj.pk in slot_of:
            details["slot"] = slot_of[obj.pk]
        if "status" in after:
            events.append(_event(obj.pk, user_id, AssetEvent.Kind.STATUS, before["status"], after["status"], reason,
                                 details))
        else:
            kind = AssetEvent.Kind.MOVED if set(PLACE) & set(after) else AssetEvent.Kind.EDITED
            events.append(_event(obj.pk, user_id, kind, "", "", reason, details))
    fast_insert(AssetEvent, events)
    ticker.finish(_("%(f)s : %(n)s appareils") % {"f": name, "n": len(rows)})


def _event(asset_id, user_id, kind, from_status, to_status, reason, details) -> SimpleNamespace:
    """An AssetEvent row for fast_insert: the attributes it reads, without a model instance (ten times cheaper)."""
    return SimpleNamespace(asset_id=asset_id, user_id=user_id, kind=str(kind), from_status=from_status,
                           to_status=to_status, reason=reason, batch_id=None, ticket="", other_asset_id=None,
                           details=details, at=None)


def _slots(created: list, updated: list, changed_by_id: dict, report: Report) -> dict[int, str]:
    """Free the slots of assets that left their class or service; put deployed assets of a class in a free slot
    of their category there. Returns {asset id: slot label} of the slots taken. Reads only the slots held by
    the assets that moved and the free slots of the classes they go to."""
    moved = [obj for obj in updated if {"status", "category", *PLACE} & set(changed_by_id[obj.pk])]
    placed = [obj for obj in created if obj.status in IN_PLACE and obj.school_class_id]
    final = {obj.pk: (obj.status, obj.school_id, obj.school_class_id, obj.category)  # the rows' final state
             for obj in (*moved, *placed)}
    if not final:
        return {}
    columns = ("id", "school_id", "school_class_id", "category", "asset_id", "label")
    slots: dict[int, dict] = {}
    for chunk in chunked(obj.pk for obj in moved):
        for row in Slot.objects.filter(asset_id__in=chunk).order_by().values(*columns):
            slots[row["id"]] = row
    targets = {class_id for status, _s, class_id, _c in final.values() if status in IN_PLACE and class_id}
    for chunk in chunked(targets):
        for row in (Slot.objects.filter(school_class_id__in=chunk, asset__isnull=True)
                    .order_by("school_class_id", "label", "pk").values(*columns)):
            slots[row["id"]] = row
    held: dict[int, int] = {}
    free: dict[tuple, list[int]] = defaultdict(list)
    for sid, slot in slots.items():
        if slot["asset_id"] is None:
            free[(slot["school_class_id"], slot["category"])].append(sid)
        else:
            held[slot["asset_id"]] = sid
    assignment: dict[int, int | None] = {}  # slot id -> its new asset id (None: freed)
    for asset_id, (status, school_id, class_id, _category) in final.items():
        sid = held.get(asset_id)
        if sid is None:
            continue
        slot = slots[sid]
        if status not in IN_PLACE or slot["school_id"] != school_id or slot["school_class_id"] != class_id:
            assignment[sid] = None
            del held[asset_id]
            free[(slot["school_class_id"], slot["category"])].append(sid)
    taken = {}
    for asset_id, (status, _school_id, class_id, category) in final.items():
        if status in IN_PLACE and class_id and asset_id not in held:
            pool = free.get((class_id, category))
            if pool:
                sid = pool.pop(0)
                assignment[sid] = asset_id
                taken[asset_id] = slots[sid]["label"]
    freed = [Slot(pk=sid, asset_id=None) for sid, aid in assignment.items()
             if slots[sid]["asset_id"] is not None and slots[sid]["asset_id"] != aid]
    filled = [Slot(pk=sid, asset_id=aid) for sid, aid in assignment.items() if aid is not None]
    fast_update(Slot, freed, ["asset"])  # first, so that an asset moving from one slot to another never holds two
    fast_update(Slot, filled, ["asset"])
    if filled:
        report.notes.append(_("%(n)s emplacement(s) occupé(s)") % {"n": len(filled)})
    released = sum(1 for aid in assignment.values() if aid is None)
    if released:
        report.notes.append(_("%(n)s emplacement(s) libéré(s)") % {"n": released})
    return taken
