"""The printable report of a requalification batch: one data structure, rendered as HTML or as a PDF.

The PDF embeds DejaVu Sans (a TrueType font with every French character, "œ", "’", "…" included)
from the Debian package fonts-dejavu-core (/usr/share/fonts/truetype/dejavu/, or the directory in the
setting PREAU_PDF_FONT_DIR). Without it, the PDF falls back to fpdf2's core Helvetica, which is latin-1
only: text is then transliterated to latin-1 ("œ" -> "oe", "’" -> "'", "…" -> "...") so the report
is still produced, complete and readable.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _

from .models import BatchItem, ErasureCertificate, RecyclingRecord, RequalificationBatch
from .services import batch_progress

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

# Characters outside latin-1 that French text commonly holds, and their latin-1 stand-ins.
LATIN1 = {"œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...", "–": "-", "—": "-",
          "\u202f": " ", "\u2009": " ", "€": "EUR", "≤": "<=", "≥": ">=", "•": "-", "Ÿ": "Y"}


@dataclass
class ReportRow:
    item: BatchItem
    certificates: list[ErasureCertificate] = field(default_factory=list)
    recycling: RecyclingRecord | None = None


@dataclass
class BatchReport:
    batch: RequalificationBatch
    rows: list[ReportRow]
    progress: dict
    converted: int
    rejected: int
    pending: int
    weight_kg: Decimal
    certificates: int
    generated_at: object


def build(batch: RequalificationBatch) -> BatchReport:
    """Everything the report shows, in four queries whatever the number of devices."""
    items = list(batch.items.select_related("asset__model", "origin_school").order_by("asset__tag"))
    certs: dict[int, list[ErasureCertificate]] = {}
    for cert in batch.erasures.order_by("performed_on", "number"):
        certs.setdefault(cert.asset_id, []).append(cert)
    recyclings = {r.asset_id: r for r in batch.recyclings.all()}
    rows = [ReportRow(item, certs.get(item.asset_id, []), recyclings.get(item.asset_id)) for item in items]
    weight = sum((r.weight_kg for r in recyclings.values()), Decimal("0"))
    converted = sum(1 for i in items if i.result == BatchItem.Result.CONVERTED)
    rejected = sum(1 for i in items if i.result == BatchItem.Result.REJECTED)
    return BatchReport(batch=batch, rows=rows, progress=batch_progress(batch), converted=converted,
                       rejected=rejected, pending=len(items) - converted - rejected, weight_kg=weight,
                       certificates=sum(len(v) for v in certs.values()), generated_at=timezone.localtime())


# --------------------------------------------------------------------------- PDF


def to_latin1(text: str) -> str:
    """Text as fpdf2's core fonts can draw it: known stand-ins, then accents kept when latin-1 has them,
    else stripped (decomposed), else "?"."""
    out = []
    for ch in str(text):
        if ch in LATIN1:
            out.append(LATIN1[ch])
            continue
        try:
            ch.encode("latin-1")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("latin-1", "ignore").decode("latin-1")
            out.append(base or "?")
    return "".join(out)


def font_dir() -> Path | None:
    """The directory holding DejaVu Sans and DejaVu Sans Bold, or None."""
    path = Path(getattr(settings, "PREAU_PDF_FONT_DIR", FONT_DIR))
    if all((path / name).is_file() for name in FONT_FILES.values()):
        return path
    return None


def _day(d) -> str:
    return date_format(d, "d/m/Y") if d else "—"


def render_pdf(report: BatchReport) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    batch = report.batch
    fonts = font_dir()
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.set_margins(12, 12, 12)
    if fonts is not None:
        for style, name in FONT_FILES.items():
            pdf.add_font("DejaVu", style, str(fonts / name))
        family = "DejaVu"

        def t(s) -> str:
            return str(s)
    else:
        family = "helvetica"
        t = to_latin1
    title = _("Rapport du lot de requalification %(ref)s") % {"ref": batch.reference}
    pdf.set_title(t(title))
    pdf.set_author("Préau" if fonts is not None else "Preau")
    pdf.set_creator("Préau" if fonts is not None else "Preau")
    footer_text = t(_("%(ref)s — édité le %(at)s") % {
        "ref": batch.reference, "at": date_format(report.generated_at, "d/m/Y H:i")})

    def footer():
        pdf.set_y(-10)
        pdf.set_font(family, "", 7)
        pdf.cell(0, 5, footer_text + t(" — ") + t(_("page %(n)s") % {"n": pdf.page_no()}), align="R")

    pdf.footer = footer
    pdf.add_page()
    pdf.set_font(family, "B", 15)
    pdf.multi_cell(0, 8, t(title), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    facts = [
        (_("Atelier"), batch.workshop.name + (f", {batch.workshop.address}" if batch.workshop.address else "")),
        (_("État"), batch.get_state_display()),
        (_("Constitué le"), _day(timezone.localdate(batch.created_at)) if batch.created_at else "—"),
        (_("Enlevé le"), _day(batch.picked_up_on)),
        (_("Réceptionné le"), _day(batch.received_on)),
        (_("Retourné le"), _day(batch.returned_on)),
        (_("Clos le"), _day(batch.closed_on)),
        (_("Créé par"), str(batch.created_by) if batch.created_by else "—"),
    ]
    for label, value in facts:
        pdf.set_font(family, "B", 9)
        pdf.cell(38, 5, t(label))
        pdf.set_font(family, "", 9)
        pdf.cell(0, 5, t(value), new_x="LMARGIN", new_y="NEXT")
    if batch.notes:
        pdf.set_font(family, "", 9)
        pdf.multi_cell(0, 5, t(_("Notes : %(n)s") % {"n": batch.notes}), align="L", new_x="LMARGIN",
                       new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(family, "B", 10)
    totals = _("Totaux : %(total)s appareils, %(c)s convertis en clients légers, %(r)s rejetés (recyclage DEEE), "
               "%(p)s en cours ; %(n)s certificats d'effacement ; poids recyclé %(w)s kg.") % {
        "total": len(report.rows), "c": report.converted, "r": report.rejected, "p": report.pending,
        "n": report.certificates, "w": number_format(report.weight_kg, 2)}
    pdf.multi_cell(0, 5, t(totals), align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    headings = [_("N° d'inventaire"), _("N° de série"), _("Modèle"), _("Éligibilité"),
                _("Certificats d'effacement (NIST SP 800-88)"), _("Résultat"), _("Recyclage DEEE")]
    pdf.set_font(family, "", 7.5)
    with pdf.table(col_widths=(26, 24, 34, 40, 82, 25, 42), text_align="LEFT", line_height=3.6,
                   headings_style=FontFace(emphasis="BOLD", fill_color=(230, 234, 240)),
                   repeat_headings=1) as table:
        head = table.row()
        for h in headings:
            head.cell(t(h))
        for row in report.rows:
            item, asset = row.item, row.item.asset
            elig = item.get_eligibility_display()
            if item.reasons:
                elig += "\n" + "\n".join(f"- {r}" for r in item.reasons)
            certs = "\n".join(
                _("%(n)s : %(m)s, %(tool)s, %(p)s passe(s)%(pat)s, %(v)s, %(op)s, %(d)s ; disque %(ds)s%(dm)s") % {
                    "n": c.number, "m": c.get_method_display(), "tool": c.tool, "p": c.passes,
                    "pat": f", {c.pattern}" if c.pattern else "", "v": c.get_verification_display(),
                    "op": c.operator, "d": _day(c.performed_on), "ds": c.disk_serial,
                    "dm": f" ({c.disk_model})" if c.disk_model else ""}
                for c in row.certificates) or "—"
            rec = row.recycling
            recycling = (_("%(w)s kg, %(r)s%(c)s, %(d)s") % {
                "w": number_format(rec.weight_kg, 2), "r": rec.recycler, "c": f", {rec.certificate}" if rec.certificate else "",
                "d": _day(rec.recycled_on)}) if rec else "—"
            r = table.row()
            for value in (asset.tag, asset.serial or "—", str(asset.model), elig, certs,
                          item.get_result_display(), recycling):
                r.cell(t(value))
    return bytes(pdf.output())
