"""The assistance API: tickets (list, create, detail, status, assign, reassign, comments, comment, replace,
rate), categories and articles (read, vote). Same scopes as the web: 404 out of scope, 403 without the right,
400 with a French sentence for a refusal; internal notes filtered; bounded queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from preau.helpdesk import kb, services
from preau.helpdesk.lifecycle import Status
from preau.helpdesk.models import ArticleVote, Comment, Party, Ticket
from tests.fleet.conftest import fleet  # noqa: F401  (fixture)

from .hd import at, category, file

API = "/api/v1"


@pytest.fixture
def as_user():
    def _as(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return _as


@pytest.fixture
def tickets(cast):
    a = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16, 9))
    b = file(cast.director_sb1, cast.sb1, now=at(2026, 11, 16, 10))
    training = file(cast.teacher_sa1, cast.sa1, "training", now=at(2026, 11, 16, 11))
    building = file(cast.teacher_sa1, cast.sa1, "electricity", now=at(2026, 11, 16, 12))
    return a, b, training, building


def ids(response):
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.django_db
def test_lists_are_scoped(cast, as_user, tickets):
    a, b, training, building = tickets
    assert ids(as_user(cast.teacher_sa1).get(f"{API}/tickets/")) == {a.pk, training.pk, building.pk}
    assert ids(as_user(cast.director_sb1).get(f"{API}/tickets/")) == {b.pk}
    assert ids(as_user(cast.committee).get(f"{API}/tickets/")) == {a.pk, b.pk, training.pk, building.pk}
    assert ids(as_user(cast.commune_a_staff).get(f"{API}/tickets/", {"queue": "true"})) == {building.pk}
    assert ids(as_user(cast.advisor_c1).get(f"{API}/tickets/", {"queue": "true"})) == {training.pk}
    assert ids(as_user(cast.workshop).get(f"{API}/tickets/")) == set()
    assert ids(as_user(cast.technician).get(f"{API}/tickets/", {"school": "0429902k"})) == {b.pk}
    assert ids(as_user(cast.technician).get(f"{API}/tickets/", {"category": "training"})) == {training.pk}
    assert as_user(None).get(f"{API}/tickets/").status_code in (401, 403)


@pytest.mark.django_db
def test_list_query_count_is_bounded(cast, as_user, tickets):
    client = as_user(cast.technician)
    with CaptureQueriesContext(connection) as few:
        assert client.get(f"{API}/tickets/").status_code == 200
    for i in range(10):
        file(cast.director_sb1, cast.sb1, "printer", now=at(2026, 11, 17, 9, i))
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(f"{API}/tickets/").json()["results"]) == 14
    assert len(many) == len(few) <= 4


@pytest.mark.django_db
def test_detail_in_and_out_of_scope(cast, as_user, tickets):
    a = tickets[0]
    response = as_user(cast.teacher_sa1).get(f"{API}/tickets/{a.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["reference"] == f"AS-{a.pk}" and body["party"] == Party.AGGLOMERATION
    assert set(body["allowed_statuses"]) == {"assigned", "in_progress", "waiting_school", "resolved", "closed"}
    assert as_user(cast.director_sb1).get(f"{API}/tickets/{a.pk}/").status_code == 404


@pytest.mark.django_db
def test_create(cast, as_user):
    response = as_user(cast.teacher_sa1).post(f"{API}/tickets/", {
        "school": "0429901J", "category": "electricity", "description": "<b>La prise</b> grésille."}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["party"] == Party.COMMUNE and body["party_commune"] == "42218"
    assert body["description"] == "<b>La prise</b> grésille."  # stored as typed, escaped by the pages
    assert body["requester"] == "teacher_sa1"
    response = as_user(cast.technician).post(f"{API}/tickets/", {"school": "0429902K", "category": "wifi"},
                                             format="json")
    assert response.status_code == 201 and response.json()["priority"] == "high"


@pytest.mark.django_db
def test_create_refused(cast, as_user):
    teacher = as_user(cast.teacher_sa1)
    response = teacher.post(f"{API}/tickets/", {"school": "0429902K", "category": "wifi"}, format="json")
    assert response.status_code == 400 and "school" in response.json()  # another school: not in scope
    response = teacher.post(f"{API}/tickets/", {"school": "0429901J", "category": "nope"}, format="json")
    assert response.status_code == 400 and "category" in response.json()
    response = teacher.post(f"{API}/tickets/", {"school": "0429901J", "category": "wifi", "priority": "asap"},
                            format="json")
    assert response.status_code == 400 and "priority" in response.json()
    # Commune staff see the school but do not file for it.
    response = as_user(cast.commune_a_staff).post(f"{API}/tickets/", {"school": "0429901J", "category": "wifi"},
                                                  format="json")
    assert response.status_code == 403
    assert Ticket.objects.count() == 0


@pytest.mark.django_db
def test_status(cast, as_user, tickets):
    a = tickets[0]
    tech = as_user(cast.technician)
    response = tech.post(f"{API}/tickets/{a.pk}/status/", {"status": "in_progress", "note": "J'arrive."},
                         format="json")
    assert response.status_code == 200 and response.json()["status"] == "in_progress"
    response = tech.post(f"{API}/tickets/{a.pk}/status/", {"status": "closed"}, format="json")
    assert response.status_code == 400 and "Transition refusée" in response.json()["detail"]
    assert tech.post(f"{API}/tickets/{a.pk}/status/", {"status": "done"}, format="json").status_code == 400
    # The school may not work the request; another school does not see it.
    assert as_user(cast.teacher_sa1).post(f"{API}/tickets/{a.pk}/status/", {"status": "resolved"},
                                          format="json").status_code == 403
    assert as_user(cast.director_sb1).post(f"{API}/tickets/{a.pk}/status/", {"status": "resolved"},
                                           format="json").status_code == 404
    a.refresh_from_db()
    assert a.status == Status.IN_PROGRESS


@pytest.mark.django_db
def test_assign(cast, as_user, tickets):
    a, _b, _t, building = tickets
    response = as_user(cast.technician).post(f"{API}/tickets/{a.pk}/assign/", {"assignee": "technician"},
                                             format="json")
    assert response.status_code == 200 and response.json()["assignee"] == "technician"
    assert response.json()["status"] == "assigned"
    assert as_user(cast.commune_a_staff).post(f"{API}/tickets/{a.pk}/assign/", {"assignee": "commune_a"},
                                              format="json").status_code == 403
    # A commune agent may not be given an agglomeration request.
    response = as_user(cast.technician).post(f"{API}/tickets/{a.pk}/assign/", {"assignee": "commune_a"},
                                             format="json")
    assert response.status_code == 400
    response = as_user(cast.commune_a_staff).post(f"{API}/tickets/{building.pk}/assign/",
                                                  {"assignee": "commune_a"}, format="json")
    assert response.status_code == 200


@pytest.mark.django_db
def test_reassign(cast, as_user, tickets):
    a = tickets[0]
    assert as_user(cast.commune_a_staff).post(f"{API}/tickets/{a.pk}/reassign/", {
        "party": "commune", "note": "prise murale"}, format="json").status_code == 403
    response = as_user(cast.technician).post(f"{API}/tickets/{a.pk}/reassign/", {"party": "commune"},
                                             format="json")
    assert response.status_code == 400 and "note" in response.json()
    response = as_user(cast.technician).post(f"{API}/tickets/{a.pk}/reassign/", {
        "party": "commune", "note": "C'est la prise murale."}, format="json")
    assert response.status_code == 200 and response.json()["party"] == "commune"
    assert as_user(cast.commune_a_staff).post(f"{API}/tickets/{a.pk}/status/", {"status": "in_progress"},
                                              format="json").status_code == 200


@pytest.mark.django_db
def test_comments_and_internal_notes(cast, as_user, tickets):
    a, _b, training, _building = tickets
    tech = as_user(cast.technician)
    assert tech.post(f"{API}/tickets/{a.pk}/comment/", {"body": "Pièce commandée.", "internal": True},
                     format="json").status_code == 201
    assert as_user(cast.teacher_sa1).post(f"{API}/tickets/{a.pk}/comment/", {"body": "Merci !"},
                                          format="json").status_code == 201
    bodies = [c["body"] for c in as_user(cast.teacher_sa1).get(f"{API}/tickets/{a.pk}/comments/").json()["results"]]
    assert bodies == ["Merci !"]
    bodies = [c["body"] for c in tech.get(f"{API}/tickets/{a.pk}/comments/").json()["results"]]
    assert bodies == ["Pièce commandée.", "Merci !"]
    # A pedagogy request's internal notes: the advisor reads them, the commune does not.
    services.do_comment(cast.advisor_c1, training, "Enseignante à accompagner.", internal=True)
    assert len(as_user(cast.advisor_c1).get(f"{API}/tickets/{training.pk}/comments/").json()["results"]) == 1
    assert as_user(cast.commune_a_staff).get(f"{API}/tickets/{training.pk}/comments/").json()["results"] == []
    # Refusals.
    response = as_user(cast.teacher_sa1).post(f"{API}/tickets/{a.pk}/comment/", {"body": "x", "internal": True},
                                              format="json")
    assert response.status_code == 400 and "note interne" in response.json()["detail"]
    assert as_user(cast.committee).post(f"{API}/tickets/{a.pk}/comment/", {"body": "x"},
                                        format="json").status_code == 403
    assert as_user(cast.director_sb1).get(f"{API}/tickets/{a.pk}/comments/").status_code == 404
    assert Comment.objects.filter(ticket=a).count() == 2


@pytest.mark.django_db
def test_replace_from_a_request(cast, as_user, fleet):  # noqa: F811
    ticket = services.do_create_ticket(cast.teacher_sa1, school=cast.sa1, category=category("thin-client"),
                                       device=fleet.tc1, notify_party=False)
    assert as_user(cast.commune_a_staff).post(f"{API}/tickets/{ticket.pk}/replace/", {
        "replacement": fleet.tc_spare.tag}, format="json").status_code == 403
    assert as_user(cast.teacher_sa1).post(f"{API}/tickets/{ticket.pk}/replace/", {
        "replacement": fleet.tc_spare.tag}, format="json").status_code == 403
    response = as_user(cast.technician).post(f"{API}/tickets/{ticket.pk}/replace/", {"replacement": "SEM-99999"},
                                             format="json")
    assert response.status_code == 400 and "replacement" in response.json()
    response = as_user(cast.technician).post(f"{API}/tickets/{ticket.pk}/replace/", {
        "replacement": fleet.tc_spare.tag}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["replacement"] == fleet.tc_spare.tag and response.json()["status"] == "in_progress"
    fleet.tc_spare.refresh_from_db()
    assert fleet.tc_spare.status == "deployed" and fleet.tc_spare.school_class_id == fleet.class2.pk
    response = as_user(cast.technician).post(f"{API}/tickets/{ticket.pk}/replace/", {
        "replacement": fleet.pc1.tag}, format="json")
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.django_db
def test_rate(cast, as_user, tickets):
    a = tickets[0]
    teacher = as_user(cast.teacher_sa1)
    response = teacher.post(f"{API}/tickets/{a.pk}/rate/", {"satisfaction": 4}, format="json")
    assert response.status_code == 400 and "résolue" in response.json()["detail"]
    services.do_change_status(cast.technician, a, Status.RESOLVED)
    assert as_user(cast.technician).post(f"{API}/tickets/{a.pk}/rate/", {"satisfaction": 5},
                                         format="json").status_code == 403
    assert teacher.post(f"{API}/tickets/{a.pk}/rate/", {"satisfaction": 9}, format="json").status_code == 400
    response = teacher.post(f"{API}/tickets/{a.pk}/rate/", {"satisfaction": 4, "comment": "Rapide."}, format="json")
    assert response.status_code == 200 and response.json()["satisfaction"] == 4


@pytest.mark.django_db
def test_categories(cast, as_user):
    response = as_user(cast.teacher_sa1).get(f"{API}/ticket-categories/")
    assert response.status_code == 200
    slugs = [c["slug"] for c in response.json()["results"]]
    assert slugs[:2] == ["projector", "thin-client"] and "training" in slugs
    detail = as_user(cast.workshop).get(f"{API}/ticket-categories/electricity/").json()
    assert detail["party"] == "commune" and detail["domain"] == "building"
    assert as_user(cast.teacher_sa1).get(f"{API}/ticket-categories/nope/").status_code == 404
    assert as_user(None).get(f"{API}/ticket-categories/").status_code in (401, 403)


@pytest.mark.django_db
def test_articles_and_vote(cast, as_user):
    published = kb.save_article(cast.admin, None, title="Changer la source du vidéoprojecteur", summary="",
                                body="Bouton Source, puis HDMI.", categories=[category("projector")], published=True)
    draft = kb.save_article(cast.admin, None, title="Brouillon", summary="", body="…",
                            categories=[category("wifi")], published=False)
    teacher = as_user(cast.teacher_sa1)
    assert [a["slug"] for a in teacher.get(f"{API}/articles/").json()["results"]] == [published.slug]
    assert [a["slug"] for a in teacher.get(f"{API}/articles/", {"q": "hdmi"}).json()["results"]] == [published.slug]
    assert teacher.get(f"{API}/articles/", {"category": "wifi"}).json()["results"] == []
    assert teacher.get(f"{API}/articles/{draft.slug}/").status_code == 404
    assert as_user(cast.technician).get(f"{API}/articles/{draft.slug}/").status_code == 200
    response = teacher.post(f"{API}/articles/{published.slug}/vote/", {"useful": True}, format="json")
    assert response.status_code == 200 and response.json()["useful_yes"] == 1
    response = teacher.post(f"{API}/articles/{published.slug}/vote/", {"useful": False}, format="json")
    assert (response.json()["useful_yes"], response.json()["useful_no"]) == (0, 1)
    assert teacher.post(f"{API}/articles/{draft.slug}/vote/", {"useful": True}, format="json").status_code == 404
    assert as_user(cast.technician).post(f"{API}/articles/{draft.slug}/vote/", {"useful": True},
                                         format="json").status_code == 400
    assert as_user(None).post(f"{API}/articles/{published.slug}/vote/", {"useful": True},
                              format="json").status_code in (401, 403)
    assert ArticleVote.objects.count() == 1


@pytest.mark.django_db
def test_article_list_query_count_is_bounded(cast, as_user):
    client = as_user(cast.advisor_c1)

    def add(i):
        kb.save_article(cast.admin, None, title=f"Article {i}", summary="", body="…",
                        categories=[category("projector"), category("wifi")], published=True)

    add(0)
    with CaptureQueriesContext(connection) as few:
        assert len(client.get(f"{API}/articles/").json()["results"]) == 1
    for i in range(1, 12):
        add(i)
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(f"{API}/articles/").json()["results"]) == 12
    assert len(many) == len(few) <= 4
