"""The figures of the assistance, computed in SQL on stored columns (never per ticket in Python), so the
number of queries is fixed whatever the data size:

- time to take charge and to resolve: medians of the working hours stored on each request when it is
  taken and resolved (Ticket.take_charge_hours, Ticket.resolve_hours, set by the lifecycle), overall and per
  category, party and commune (one windowed query per dimension and measure);
- breach rate: share of the period's requests whose take-charge or resolution deadline was missed;
- satisfaction after closing: average and distribution of the 1-5 marks;
- open requests by status (now, whatever the period).

The period is a school year (1 September to 31 August, by creation date); merged duplicates are not counted.

At 500,000 requests these queries take a second or more (a school year is scanned several times), so the
page reads figures computed ahead of time in the background (snapshots.py) and says when they were computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Avg, Count, F, IntegerField, Q, QuerySet, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from . import lifecycle
from .models import Party, Ticket

BREACHED = Q(take_charge_breached=True) | Q(resolve_breached=True)
# dimension: (group key, label field)
DIMENSIONS = {
    "category": ("category_id", "category__label"),
    "party": ("party", "party"),
    "commune": ("school__commune_id", "school__commune__name"),
}


def school_year_of(day: date) -> int:
    return day.year if day.month >= 9 else day.year - 1


def period(year: int) -> tuple[datetime, datetime]:
    return (timezone.make_aware(datetime(year, 9, 1)), timezone.make_aware(datetime(year + 1, 9, 1)))


def school_years(qs: QuerySet[Ticket]) -> list[int]:
    """The school years holding requests (newest first), in two queries."""
    from django.db.models import Max, Min

    # Two aggregates: SQLite reads one end of the created_at index for a lone MIN or MAX, the whole index for both.
    span = {**qs.aggregate(first=Min("created_at")), **qs.aggregate(last=Max("created_at"))}
    current = school_year_of(timezone.localdate())
    if span["first"] is None:
        return [current]
    first = school_year_of(timezone.localtime(span["first"]).date())
    last = max(current, school_year_of(timezone.localtime(span["last"]).date()))
    return list(range(last, first - 1, -1))


def median(qs: QuerySet[Ticket], column: str):
    """The (lower) median of a non-null column, in two bounded queries: a count and one row by offset."""
    values = qs.filter(**{f"{column}__isnull": False}).order_by()
    n = values.count()
    if not n:
        return None
    return values.order_by(column).values_list(column, flat=True)[(n - 1) // 2]


def group_medians(qs: QuerySet[Ticket], key: str, column: str) -> dict:
    """{group: lower median of column} in one query (ROW_NUMBER and COUNT over each group)."""
    rows = (qs.filter(**{f"{column}__isnull": False}).order_by()
            .annotate(rn=Window(RowNumber(), partition_by=[F(key)], order_by=F(column).asc()),
                      cnt=Window(Count("pk"), partition_by=[F(key)]))
            .filter(rn=(F("cnt") + 1) / 2).values_list(key, column))
    return dict(rows)


@dataclass
class Row:
    key: object
    label: str
    total: int
    resolved: int
    breached: int
    take_median: float | None = None
    resolve_median: float | None = None
    label_source: object = None  # what the label is made from (stored; the label follows the language)

    @property
    def breach_rate(self) -> float | None:
        return round(100 * self.breached / self.total, 1) if self.total else None


@dataclass
class Figures:
    year: int | None
    total: int = 0
    resolved: int = 0
    breached: int = 0
    take_median: float | None = None
    resolve_median: float | None = None
    satisfaction_avg: float | None = None
    rated: int = 0
    satisfaction: list = field(default_factory=list)  # [(mark, n)] for 1..5
    open_by_status: list = field(default_factory=list)  # [(status, label, n)]
    tables: dict = field(default_factory=dict)  # dimension -> [Row]
    computed_at: datetime | None = None
    refreshing: bool = False  # stored figures past their age, a refresh asked for (snapshots.py)

    @property
    def breach_rate(self) -> float | None:
        return round(100 * self.breached / self.total, 1) if self.total else None


def label(dimension: str, value) -> str:
    if dimension == "party":
        return str(Party(value).label) if value in Party.values else str(value)
    return value or "—"


def compute(scope: QuerySet[Ticket], year: int | None) -> Figures:
    """Figures of the requests in `scope` (already limited to the user and the commune filter)."""
    # COALESCE rather than "merged_into IS NULL": SQLite's statistics count the NULLs of that foreign key's
    # index as one value among hundreds, so it read every request through that index instead of the period's
    # range of created_at (bench/helpdesk.py, 500,000 requests: a school year's totals 237 -> 11 ms).
    base = scope.alias(unmerged=Coalesce("merged_into_id", Value(0), output_field=IntegerField())).filter(
        unmerged=0).order_by()
    qs = base
    if year is not None:
        start, end = period(year)
        qs = base.filter(created_at__gte=start, created_at__lt=end)
    out = Figures(year=year, computed_at=timezone.now())
    totals = qs.aggregate(total=Count("pk"), resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
                          breached=Count("pk", filter=BREACHED), rated=Count("satisfaction"),
                          avg=Avg("satisfaction"))
    out.total, out.resolved, out.breached, out.rated = (totals["total"], totals["resolved"], totals["breached"],
                                                        totals["rated"])
    out.satisfaction_avg = round(totals["avg"], 2) if totals["avg"] is not None else None
    if out.total:
        out.take_median = median(qs, "take_charge_hours")
        out.resolve_median = median(qs, "resolve_hours")
        marks = dict(qs.filter(satisfaction__isnull=False).values_list("satisfaction").annotate(n=Count("pk")))
        out.satisfaction = [(m, marks.get(m, 0)) for m in range(1, 6)]
        for dimension, (key, label_field) in DIMENSIONS.items():
            rows = [Row(key=k, label=label(dimension, lab), label_source=lab, total=t, resolved=r, breached=b)
                    for k, lab, t, r, b in qs.values_list(key, label_field).annotate(
                        t=Count("pk"), r=Count("pk", filter=Q(resolved_at__isnull=False)),
                        b=Count("pk", filter=BREACHED)).order_by(label_field)]
            takes = group_medians(qs, key, "take_charge_hours")
            resolves = group_medians(qs, key, "resolve_hours")
            for row in rows:
                row.take_median, row.resolve_median = takes.get(row.key), resolves.get(row.key)
            out.tables[dimension] = rows
    else:
        out.satisfaction = [(m, 0) for m in range(1, 6)]
        out.tables = {d: [] for d in DIMENSIONS}
    counts = dict(base.filter(status__in=lifecycle.OPEN).values_list("status").annotate(n=Count("pk")))
    out.open_by_status = [(s, lifecycle.label(s), counts.get(s, 0)) for s in lifecycle.OPEN]
    return out


def bars(items: list[tuple[str, float | None, str]], width: int = 420, bar: int = 18, gap: int = 6,
         label_width: int = 300) -> dict:
    """Horizontal bars for an inline SVG: [(label, value, shown text)] -> geometry (no JavaScript)."""
    top = max((v for _l, v, _t in items if v), default=0) or 1
    rows = []
    for i, (name, value, text) in enumerate(items):
        y = i * (bar + gap)
        rows.append({"label": name, "text": text, "y": y, "ty": y + bar - 5,
                     "w": round(width * (value or 0) / top, 1), "x": label_width,
                     "tx": label_width + round(width * (value or 0) / top, 1) + 6})
    return {"rows": rows, "height": max(len(items) * (bar + gap), bar), "width": label_width + width + 90,
            "bar": bar}
