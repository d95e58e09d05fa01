"""The request page and its actions: who sees what (404 out of scope, 403 without the right), internal notes,
escaping, every action through htmx and without, refusals in French with nothing written."""

import pytest
from django.core import mail
from django.urls import reverse

from preau.fleet.models import Asset
from preau.helpdesk import services
from preau.helpdesk.models import Article, Category, Comment, TicketEvent, TicketLink

from . import fixtures_tickets

fleet = fixtures_tickets.fleet  # the fleet cast (tests/fleet/conftest.py) as a fixture here

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def file(user, school, slug="projector", **extra):
    return services.do_create_ticket(user, school=school, category=Category.objects.get(slug=slug),
                                     description=extra.pop("description", "Rien ne s'affiche."),
                                     notify_party=False, **extra)


def page(ticket):
    return reverse("helpdesk:ticket", args=[ticket.pk])


def act(ticket, action):
    return reverse("helpdesk:ticket-action", args=[ticket.pk, action])


@pytest.mark.parametrize("who,code", [
    ("teacher_sa1", 200), ("director_sa1", 200), ("technician", 200), ("admin", 200), ("committee", 200),
    ("commune_a_staff", 200), ("advisor_c1", 200), ("director_sb1", 404), ("workshop", 404)])
def test_ticket_page_scope(cast, login, who, code):
    ticket = file(cast.teacher_sa1, cast.sa1)
    assert login(getattr(cast, who)).get(page(ticket)).status_code == code


def test_anonymous_is_sent_to_login(cast, client):
    ticket = file(cast.teacher_sa1, cast.sa1)
    assert client.get(page(ticket)).status_code == 302


def test_header_and_escaped_description(cast, login, fleet):
    ticket = file(cast.teacher_sa1, cast.sa1, device=fleet.proj1, school_class=fleet.class1,
                  description='<script>alert("x")</script><b>gras</b>')
    html = login(cast.technician).get(page(ticket)).content.decode()
    assert ticket.reference in html and "Agglomération" in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html and "<b>gras" not in html
    assert reverse("fleet:asset", args=[fleet.proj1.tag]) in html
    assert "Classe 1" in html and "Prise en charge avant" in html
    # workers get the actions; the school gets none of them
    assert act(ticket, "prendre") in html
    assert act(ticket, "remplacer") in html and fleet.tc_spare.tag not in html  # projector: no spare projector
    teacher_html = login(cast.teacher_sa1).get(page(ticket)).content.decode()
    assert act(ticket, "statut") not in teacher_html and act(ticket, "prendre") not in teacher_html
    assert act(ticket, "message") in teacher_html and 'name="internal"' not in teacher_html


def test_internal_notes_hidden_from_school_committee_and_commune_on_pedagogy(cast, login):
    equipment = file(cast.teacher_sa1, cast.sa1, slug="electricity")  # routed to the commune
    services.do_comment(cast.commune_a_staff, equipment, "Note électricien interne", internal=True)
    training = file(cast.teacher_sa1, cast.sa1, slug="training")  # routed to the circonscription
    services.do_comment(cast.advisor_c1, training, "Avis pédagogique interne", internal=True)
    services.do_comment(cast.advisor_c1, training, "Réponse publique à l'école")
    assert "Note électricien interne" in login(cast.commune_a_staff).get(page(equipment)).content.decode()
    assert "Note électricien interne" in login(cast.technician).get(page(equipment)).content.decode()
    for who in ("teacher_sa1", "director_sa1", "committee"):
        html = login(getattr(cast, who)).get(page(equipment)).content.decode()
        assert "Note électricien interne" not in html, who
    html = login(cast.commune_a_staff).get(page(training)).content.decode()
    assert "Avis pédagogique interne" not in html and "Réponse publique à l&#x27;école" in html
    assert "Avis pédagogique interne" in login(cast.advisor_c1).get(page(training)).content.decode()


def test_take_status_and_refused_transition(cast, login):
    ticket = file(cast.teacher_sa1, cast.sa1)
    client = login(cast.technician)
    response = client.post(act(ticket, "prendre"), **HX)
    assert response.status_code == 200 and 'id="ticket"' in response.content.decode()
    assert "<html" not in response.content.decode()  # a fragment for htmx
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status) == (cast.technician, "assigned")
    response = client.post(act(ticket, "statut"), {"status": "in_progress", "note": "On arrive"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    assert Comment.objects.filter(ticket=ticket, body="On arrive", internal=False).exists()
    events = TicketEvent.objects.filter(ticket=ticket).count()
    response = client.post(act(ticket, "statut"), {"status": "closed"}, **HX)  # not allowed from in progress
    assert response.status_code == 400 and "Choisissez un statut possible." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "in_progress" and TicketEvent.objects.filter(ticket=ticket).count() == events


@pytest.mark.parametrize("action,data", [
    ("statut", {"status": "in_progress"}), ("prendre", {}), ("reorienter", {"party": "commune", "note": "x"}),
    ("fusionner", {"into": 1}), ("lier", {"kind": "visit", "visit_on": "2026-12-01"}),
    ("remplacer", {"replacement": "SEM-00005"})])
@pytest.mark.parametrize("who", ["teacher_sa1", "committee", "commune_a_staff"])
def test_work_actions_denied_to_non_workers(cast, login, fleet, action, data, who):
    ticket = file(cast.teacher_sa1, cast.sa1, device=fleet.tc1)
    before = (ticket.status, ticket.party, TicketEvent.objects.count())
    assert login(getattr(cast, who)).post(act(ticket, action), data).status_code == 403
    ticket.refresh_from_db()
    assert (ticket.status, ticket.party, TicketEvent.objects.count()) == before


def test_actions_out_of_scope_404(cast, login):
    ticket = file(cast.teacher_sa1, cast.sa1)
    assert login(cast.director_sb1).post(act(ticket, "message"), {"body": "hello"}).status_code == 404
    assert login(cast.teacher_sa1).post(act(ticket, "inconnue"), {}).status_code == 404
    assert not Comment.objects.exists()


def test_comment_public_and_internal(cast, login, django_capture_on_commit_callbacks):
    ticket = file(cast.teacher_sa1, cast.sa1)
    tech = login(cast.technician)
    with django_capture_on_commit_callbacks(execute=True):
        assert tech.post(act(ticket, "message"), {"body": "Secret technique", "internal": "on"}).status_code == 302
    assert mail.outbox == []  # internal notes are never mailed
    with django_capture_on_commit_callbacks(execute=True):
        assert tech.post(act(ticket, "message"), {"body": "Nous passons <i>demain</i>"}).status_code == 302
    assert [m.to for m in mail.outbox] == [["teacher_sa1@example.org"]]
    assert "<i>demain" not in mail.outbox[0].alternatives[0][0]
    # the school cannot write internal notes
    response = login(cast.teacher_sa1).post(act(ticket, "message"), {"body": "psst", "internal": "on"})
    assert response.status_code == 400 and "Seul le responsable" in response.content.decode()
    assert Comment.objects.filter(ticket=ticket).count() == 2
    empty = login(cast.teacher_sa1).post(act(ticket, "message"), {"body": ""}, **HX)
    assert empty.status_code == 400 and "Le message est vide." in empty.content.decode()


def test_reassign_keeps_history(cast, login):
    ticket = file(cast.teacher_sa1, cast.sa1)
    client = login(cast.technician)
    response = client.post(act(ticket, "reorienter"), {"party": "commune", "note": ""})
    assert response.status_code == 400 and "Dites pourquoi" in response.content.decode()
    assert client.post(act(ticket, "reorienter"), {"party": "commune", "note": "C'est la prise"}).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.party, ticket.party_commune) == ("commune", cast.commune_a)
    html = login(cast.commune_a_staff).get(page(ticket)).content.decode()
    assert "C&#x27;est la prise" in html and "Commune : Saint-Étienne" in html
    assert act(ticket, "prendre") in html
    assert login(cast.commune_a_staff).post(act(ticket, "prendre")).status_code == 302
    ticket.refresh_from_db()
    assert ticket.assignee == cast.commune_a_staff
    kinds = list(TicketEvent.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds == ["created", "reassigned", "assigned"]


def test_merge_same_school_only(cast, login):
    a = file(cast.teacher_sa1, cast.sa1)
    b = file(cast.director_sa1, cast.sa1)
    other = file(cast.technician, cast.sb1)
    client = login(cast.technician)
    response = client.post(act(b, "fusionner"), {"into": other.pk})
    assert response.status_code == 400 and "même école" in response.content.decode()
    assert client.post(act(b, "fusionner"), {"into": a.pk}).status_code == 302
    b.refresh_from_db()
    assert b.merged_into == a and b.status == "closed"
    assert TicketLink.objects.filter(ticket=a, other=b).exists()
    assert a.reference in login(cast.director_sa1).get(page(b)).content.decode()


def test_links(cast, login, fleet):
    ticket = file(cast.teacher_sa1, cast.sa1)
    other = file(cast.teacher_sa1, cast.sa1)
    client = login(cast.technician)
    assert client.post(act(ticket, "lier"), {"kind": "ticket", "other": other.pk}).status_code == 302
    assert client.post(act(ticket, "lier"), {"kind": "device", "tag": fleet.pc1.tag}).status_code == 302
    assert client.post(act(ticket, "lier"), {"kind": "visit", "visit_on": "2026-12-07", "note": "Passage"}).status_code == 302
    response = client.post(act(ticket, "lier"), {"kind": "visit"})
    assert response.status_code == 400 and "date de l&#x27;intervention" in response.content.decode()
    assert response.status_code == 400
    assert TicketLink.objects.filter(ticket=ticket).count() == 3
    html = client.get(page(ticket)).content.decode()
    assert other.reference in html and fleet.pc1.tag in html and "07/12/2026" in html


def test_replace_device_from_the_request(cast, login, fleet, django_capture_on_commit_callbacks):
    ticket = file(cast.teacher_sa1, cast.sa1, slug="thin-client", device=fleet.tc1, school_class=fleet.class2)
    client = login(cast.technician)
    html = client.get(page(ticket)).content.decode()
    assert fleet.tc_spare.tag in html and "dépôt" in html  # the candidate, from the fleet's list
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(act(ticket, "remplacer"), {"replacement": fleet.tc_spare.tag}, **HX)
    assert response.status_code == 200, response.content.decode()[:3000]
    ticket.refresh_from_db()
    assert ticket.replacement == fleet.tc_spare and ticket.status == "in_progress"
    spare = Asset.objects.get(pk=fleet.tc_spare.pk)
    assert spare.status == "deployed" and spare.school_class == fleet.class2
    assert any("a été remplacé" in m.body for m in mail.outbox if m.to == ["teacher_sa1@example.org"])
    # the device pages show the request
    asset_html = client.get(reverse("fleet:asset", args=[fleet.tc1.tag])).content.decode()
    assert ticket.reference in asset_html
    spare_html = client.get(reverse("fleet:asset", args=[spare.tag])).content.decode()
    assert ticket.reference in spare_html
    # a replacement that is not available is refused in French
    again = client.post(act(ticket, "remplacer"), {"replacement": fleet.pc_b.tag})
    assert again.status_code == 400


def test_resolve_close_rate_reopen_by_the_school(cast, login):
    ticket = file(cast.teacher_sa1, cast.sa1)
    tech, teacher = login(cast.technician), None
    tech.post(act(ticket, "prendre"))
    tech.post(act(ticket, "statut"), {"status": "resolved"})
    teacher = login(cast.teacher_sa1)
    html = teacher.get(page(ticket)).content.decode()
    assert act(ticket, "clore") in html and act(ticket, "avis") in html
    response = teacher.post(act(ticket, "avis"), {"satisfaction": "9"})
    assert response.status_code == 400 and "1 à 5" in response.content.decode()
    assert teacher.post(act(ticket, "clore")).status_code == 302
    assert teacher.post(act(ticket, "avis"), {"satisfaction": "4", "comment": "Rapide"}).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.satisfaction, ticket.satisfaction_comment) == ("closed", 4, "Rapide")
    response = teacher.post(act(ticket, "rouvrir"), {"note": ""})
    assert response.status_code == 400 and "rouvrir" in response.content.decode()
    assert teacher.post(act(ticket, "rouvrir"), {"note": "Ça recommence"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "reopened" and ticket.reopen_count == 1
    # another school's director cannot rate
    assert login(cast.director_sb1).post(act(ticket, "avis"), {"satisfaction": "1"}).status_code == 404


def test_resolve_with_article(cast, login):
    from django.utils import timezone
    ticket = file(cast.teacher_sa1, cast.sa1)
    article = Article.objects.create(title="Rallumer", slug="rallumer", body="…", updated_at=timezone.now())
    article.categories.add(ticket.category)
    client = login(cast.technician)
    assert "Rallumer" in client.get(page(ticket)).content.decode()
    assert client.post(act(ticket, "article"), {"article": article.pk}).status_code == 302
    ticket.refresh_from_db()
    article.refresh_from_db()
    assert ticket.status == "resolved" and ticket.resolved_by_article == article and article.resolved_count == 1
    assert login(cast.committee).post(act(ticket, "article"), {"article": article.pk}).status_code == 400


@pytest.mark.parametrize("who", ["committee", "advisor_c1"])
def test_comment_denied_to_readers_who_are_not_parties(cast, login, who):
    ticket = file(cast.teacher_sa1, cast.sa1)
    assert login(getattr(cast, who)).post(act(ticket, "message"), {"body": "bonjour"}).status_code == 403
    assert not Comment.objects.exists()


def test_deadline_badges(cast, login):
    from datetime import timedelta

    from django.utils import timezone

    from preau.helpdesk.models import Ticket
    ticket = file(cast.teacher_sa1, cast.sa1)
    now = timezone.now()
    Ticket.objects.filter(pk=ticket.pk).update(take_charge_due=now - timedelta(hours=1),
                                               resolve_due=now + timedelta(hours=1))
    html = login(cast.technician).get(page(ticket)).content.decode()
    take = html[html.index('id="take-due"'):html.index('id="resolve-due"')]
    resolve = html[html.index('id="resolve-due"'):html.index("</dl>", html.index('id="resolve-due"'))]
    assert "hd-breached" in take and "hd-warning" in resolve


def test_ticket_page_queries_bounded(cast, login, fleet):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ticket = file(cast.teacher_sa1, cast.sa1, device=fleet.tc1, slug="thin-client")
    services.do_comment(cast.teacher_sa1, ticket, "premier message")  # comments present in both measures
    client = login(cast.technician)
    with CaptureQueriesContext(connection) as small:
        client.get(page(ticket))
    for i in range(15):
        services.do_comment(cast.technician, ticket, f"message {i}", internal=bool(i % 2))
        services.do_comment(cast.teacher_sa1, ticket, f"réponse {i}")
    services.do_assign(cast.technician, ticket, cast.technician)
    with CaptureQueriesContext(connection) as large:
        response = client.get(page(ticket))
    assert "réponse 14" in response.content.decode()
    assert len(large) == len(small) <= 30, len(large)
