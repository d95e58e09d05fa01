"""The asset search box: what it finds, and that it answers from indexes (no scan of the fleet)."""

import pytest
from django.db import connection

from preau.fleet import services
from preau.fleet.filters import AssetFilter
from preau.fleet.models import Asset

pytestmark = pytest.mark.django_db


def found(value: str) -> list[str]:
    return sorted(AssetFilter({"q": value}, queryset=Asset.objects.all()).qs.values_list("tag", flat=True))


def test_search_by_tag_start_serial_hostname_and_model(fleet, cast):
    services.do_update_asset(cast.admin, fleet.pc1, hostname="ecole-tilleuls-pc1")
    assert found("sem-0000") == ["SEM-00001", "SEM-00002", "SEM-00003", "SEM-00004", "SEM-00005", "SEM-00006"]
    assert found("SEM-00004") == ["SEM-00004"]
    assert found("czc4444") == ["SEM-00004"]  # whole serial, any case
    assert found("CZC44") == []  # not a serial's start
    assert found("ECOLE-TILLEULS") == ["SEM-00001"]
    assert found("optiplex") == ["SEM-00001", "SEM-00004"]
    assert found("dell SEM-00004") == ["SEM-00004"]  # every word must match


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the plan is checked on SQLite")
def test_search_answers_from_indexes(fleet):
    qs = AssetFilter({"q": "H0012345"}, queryset=Asset.objects.all()).qs.order_by()
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " | ".join(row[-1] for row in cursor.fetchall())
    assert "SCAN fleet_asset" not in plan, plan
