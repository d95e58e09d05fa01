"""Working hours of the school calendar: the deadlines of help requests count only school days
(configured weekdays, minus French public holidays and the académie's school holidays) between the
opening and closing times.

Settings (environment): PREAU_HELPDESK_HOURS="08:30-16:30", PREAU_HELPDESK_WORKDAYS="0,1,2,3,4"
(Monday = 0). School holidays are `SchoolHoliday` rows (editable by the agglomeration).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import holidays
from django.conf import settings
from django.utils import timezone

MAX_DAYS = 3 * 366  # a deadline further than this is a configuration error, not a date


def _parse_hours(text: str) -> tuple[time, time]:
    start, end = (time.fromisoformat(part.strip()) for part in text.split("-", 1))
    if end <= start:
        raise ValueError(f"PREAU_HELPDESK_HOURS: {text!r} (the end must come after the start)")
    return start, end


@dataclass
class WorkCalendar:
    opens: time = time(8, 30)
    closes: time = time(16, 30)
    workdays: frozenset = frozenset({0, 1, 2, 3, 4})
    school_holidays: list = field(default_factory=list)  # [(first day, last day)]
    _public: dict = field(default_factory=dict)

    @classmethod
    def load(cls) -> "WorkCalendar":
        from .models import SchoolHoliday

        opens, closes = _parse_hours(getattr(settings, "PREAU_HELPDESK_HOURS", "08:30-16:30"))
        days = getattr(settings, "PREAU_HELPDESK_WORKDAYS", "0,1,2,3,4")
        workdays = frozenset(int(d) for d in str(days).split(",") if d.strip())
        periods = list(SchoolHoliday.objects.order_by("start").values_list("start", "end"))
        return cls(opens, closes, workdays, periods)

    @property
    def day_hours(self) -> float:
        return (datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)).seconds / 3600

    def is_public_holiday(self, day: date) -> bool:
        if day.year not in self._public:
            self._public[day.year] = holidays.France(years=day.year)
        return day in self._public[day.year]

    def is_school_holiday(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.school_holidays)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and not self.is_public_holiday(day) and not self.is_school_holiday(day)

    def _window(self, day: date, tz) -> tuple[datetime, datetime]:
        return (timezone.make_aware(datetime.combine(day, self.opens), tz),
                timezone.make_aware(datetime.combine(day, self.closes), tz))

    def add(self, start: datetime, hours) -> datetime:
        """The moment `hours` working hours after `start` (aware datetimes)."""
        tz = timezone.get_default_timezone()
        remaining = timedelta(hours=float(hours if not isinstance(hours, Decimal) else float(hours)))
        cursor = timezone.localtime(start, tz)
        day = cursor.date()
        for _ in range(MAX_DAYS):
            if self.is_working_day(day):
                opens, closes = self._window(day, tz)
                begin = max(cursor, opens)
                if begin < closes:
                    available = closes - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("deadline beyond three years of working days")

    def between(self, start: datetime, end: datetime) -> float:
        """Working hours between two moments (0 if end is before start)."""
        if end <= start:
            return 0.0
        tz = timezone.get_default_timezone()
        a, b = timezone.localtime(start, tz), timezone.localtime(end, tz)
        total = timedelta()
        day = a.date()
        while day <= b.date():
            if self.is_working_day(day):
                opens, closes = self._window(day, tz)
                lo, hi = max(a, opens), min(b, closes)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total.total_seconds() / 3600
