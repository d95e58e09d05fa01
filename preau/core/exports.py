"""CSV (streamed, UTF-8 with BOM and ';' so spreadsheets in France open it right) and XLSX exports."""

import csv
import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse, StreamingHttpResponse
from openpyxl import Workbook


class _Echo:
    def write(self, value):
        return value


def csv_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo(), delimiter=";")

    def lines():
        yield "\ufeff" + writer.writerow(headers)
        for row in rows:
            yield writer.writerow(["" if v is None else v for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def xlsx_response(filename: str, headers: Sequence[str], rows: Iterable[Sequence]) -> HttpResponse:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(filename[:31])
    ws.append(list(headers))
    for row in rows:
        ws.append(["" if v is None else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    response = HttpResponse(
        buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return response


def export_response(fmt: str, filename: str, headers: Sequence[str], rows: Iterable[Sequence]):
    if fmt == "xlsx":
        return xlsx_response(filename, headers, rows)
    return csv_response(filename, headers, rows)
