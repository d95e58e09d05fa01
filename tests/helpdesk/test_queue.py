"""Queues and lists: the party's queue (filters, deadline order, bounded queries, exports), my requests,
a school's requests and the school page's block."""

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from preau.helpdesk import services
from preau.helpdesk.models import Category, Ticket

from . import fixtures_tickets

fleet = fixtures_tickets.fleet  # the fleet cast (tests/fleet/conftest.py) as a fixture here

pytestmark = pytest.mark.django_db
QUEUE = reverse("helpdesk:queue")


def file(user, school, slug="projector", **extra):
    return services.do_create_ticket(user, school=school, category=Category.objects.get(slug=slug),
                                     notify_party=False, **extra)


def refs(response):
    return {t.pk for t in response.context["page"].object_list}


@pytest.mark.parametrize("who", ["admin", "technician", "commune_a_staff", "advisor_c1", "workshop"])
def test_queue_allowed_for_parties(cast, login, who):
    assert login(getattr(cast, who)).get(QUEUE).status_code == 200


@pytest.mark.parametrize("who", ["teacher_sa1", "director_sa1", "committee"])
def test_queue_denied_to_non_parties(cast, login, who):
    response = login(getattr(cast, who)).get(QUEUE)
    assert response.status_code == 403
    assert login(getattr(cast, who)).get(reverse("helpdesk:queue-export", args=["csv"])).status_code == 403


def test_each_party_sees_its_own_queue(cast, login):
    projector = file(cast.teacher_sa1, cast.sa1)
    building_a = file(cast.teacher_sa1, cast.sa1, "electricity")
    building_b = file(cast.director_sb1, cast.sb1, "electricity")
    training = file(cast.teacher_sa1, cast.sa1, "training")
    assert refs(login(cast.technician).get(QUEUE)) == {projector.pk}
    assert refs(login(cast.commune_a_staff).get(QUEUE)) == {building_a.pk}
    assert refs(login(cast.advisor_c1).get(QUEUE)) == {training.pk}
    assert refs(login(cast.workshop).get(QUEUE)) == set()
    assert building_b.party_commune == cast.commune_b


def test_filters_ordering_and_closed_hidden(cast, login):
    a = file(cast.teacher_sa1, cast.sa1, "projector")   # high: due sooner
    b = file(cast.director_sb1, cast.sb1, "account")     # normal
    c = file(cast.teacher_sa1, cast.sa1, "no-internet")  # urgent: due first
    done = file(cast.teacher_sa1, cast.sa1, "printer")
    services.do_change_status(cast.technician, done, "closed")
    client = login(cast.technician)
    page = client.get(QUEUE).context["page"]
    assert [t.pk for t in page.object_list] == [c.pk, a.pk, b.pk]
    assert refs(client.get(QUEUE, {"status": "all"})) == {a.pk, b.pk, c.pk, done.pk}
    assert refs(client.get(QUEUE, {"school": cast.sb1.uai})) == {b.pk}
    assert refs(client.get(QUEUE, {"commune": cast.commune_a.insee})) == {a.pk, c.pk}
    assert refs(client.get(QUEUE, {"category": Category.objects.get(slug="account").pk})) == {b.pk}
    assert refs(client.get(QUEUE, {"priority": "urgent"})) == {c.pk}
    assert refs(client.get(QUEUE, {"breached": "on"})) == set()
    Ticket.objects.filter(pk=a.pk).update(resolve_breached=True)
    assert refs(client.get(QUEUE, {"breached": "on"})) == {a.pk}
    assert "dépassé" in client.get(QUEUE).content.decode()


def test_queue_queries_do_not_grow(cast, login, fleet):
    client = login(cast.technician)
    file(cast.teacher_sa1, cast.sa1, device=fleet.proj1, school_class=fleet.class1)
    with CaptureQueriesContext(connection) as small:
        assert client.get(QUEUE).status_code == 200
    for i in range(25):
        t = file(cast.teacher_sa1 if i % 2 else cast.technician, cast.sa1 if i % 2 else cast.sb1,
                 device=fleet.proj1 if i % 2 else None)
        if i % 3 == 0:
            services.do_assign(cast.technician, t, cast.technician)
    with CaptureQueriesContext(connection) as large:
        response = client.get(QUEUE)
    assert len(response.context["page"].object_list) == 26
    assert len(large) == len(small) <= 8, [q["sql"][:120] for q in large.captured_queries]
    for url in (reverse("helpdesk:mine"), reverse("helpdesk:school", args=[cast.sa1.uai])):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        assert len(ctx) <= 8


def test_exports(cast, login):
    t = file(cast.teacher_sa1, cast.sa1)
    file(cast.teacher_sa1, cast.sa1, "electricity")
    client = login(cast.technician)
    response = client.get(reverse("helpdesk:queue-export", args=["csv"]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Référence" and [r[0] for r in rows[1:]] == [t.reference]
    assert rows[1][6] == cast.sa1.uai
    response = client.get(reverse("helpdesk:queue-export", args=["xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))][0] == t.reference
    assert client.get(reverse("helpdesk:queue-export", args=["pdf"])).status_code == 404


def test_mine_and_school_list(cast, login):
    mine = file(cast.teacher_sa1, cast.sa1)
    theirs = file(cast.director_sa1, cast.sa1)
    other = file(cast.director_sb1, cast.sb1)
    assert refs(login(cast.teacher_sa1).get(reverse("helpdesk:mine"))) == {mine.pk}
    services.do_assign(cast.technician, other, cast.technician)
    assert refs(login(cast.technician).get(reverse("helpdesk:mine"))) == {other.pk}
    school_url = reverse("helpdesk:school", args=[cast.sa1.uai])
    assert refs(login(cast.teacher_sa1).get(school_url)) == {mine.pk, theirs.pk}
    assert login(cast.director_sb1).get(school_url).status_code == 404
    assert login(cast.workshop).get(school_url).status_code == 404
    assert refs(login(cast.commune_a_staff).get(school_url)) == {mine.pk, theirs.pk}


def test_school_page_block(cast, login):
    t = file(cast.teacher_sa1, cast.sa1)
    file(cast.director_sb1, cast.sb1)
    url = reverse("territory:school", args=[cast.sa1.uai])
    html = login(cast.teacher_sa1).get(url).content.decode()
    assert 'id="helpdesk"' in html and t.reference in html and "1 demande ouverte" in html
    assert reverse("helpdesk:new") in html
    html = login(cast.committee).get(url).content.decode()
    assert t.reference in html and "Demander de l&#x27;aide" not in html
    html = login(cast.technician).get(url).content.decode()
    assert f"{reverse('helpdesk:new')}?ecole={cast.sa1.uai}" in html
