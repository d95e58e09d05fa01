"""Routing acceptance, through the pages: a building problem lands with the commune, a training need with
the circonscription, a requalified thin client's failure with the agglomeration and then the workshop
that requalified it once reassigned; each queue page shows the request to the right people only."""

import pytest
from django.core import mail
from django.urls import reverse

from preau.fleet.models import Asset, BatchItem, Origin, RequalificationBatch
from preau.helpdesk.models import Category, Ticket

from . import fixtures_tickets

fleet = fixtures_tickets.fleet  # the fleet cast (tests/fleet/conftest.py) as a fixture here

pytestmark = pytest.mark.django_db
NEW, QUEUE = reverse("helpdesk:new"), reverse("helpdesk:queue")
PARTIES = ("technician", "commune_a_staff", "advisor_c1", "workshop")


def file_through_the_page(client, slug, **data):
    response = client.post(NEW, {"category": Category.objects.get(slug=slug).pk, "description": "Au secours",
                                 **data})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Ticket.objects.order_by("-pk").first()


def who_sees_it_in_their_queue(cast, login, ticket):
    return {who for who in PARTIES
            if f'data-ticket="{ticket.pk}"' in login(getattr(cast, who)).get(QUEUE).content.decode()}


def test_building_problem_lands_with_the_commune(cast, login, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = file_through_the_page(login(cast.teacher_sa1), "electricity")
    assert (ticket.party, ticket.party_commune) == ("commune", cast.commune_a)
    assert who_sees_it_in_their_queue(cast, login, ticket) == {"commune_a_staff"}
    assert [m.to for m in mail.outbox] == [["commune_a@example.org"]]
    assert "Commune : Saint-Étienne" in login(cast.teacher_sa1).get(
        reverse("helpdesk:ticket", args=[ticket.pk])).content.decode()


def test_training_need_lands_with_the_circonscription(cast, login, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = file_through_the_page(login(cast.teacher_sa1), "training")
    assert (ticket.party, ticket.party_circonscription) == ("circonscription", cast.circ1)
    assert who_sees_it_in_their_queue(cast, login, ticket) == {"advisor_c1"}
    assert [m.to for m in mail.outbox] == [["advisor_c1@example.org"]]


def test_requalified_thin_client_goes_to_the_agglomeration_then_the_workshop(cast, login, fleet):
    Asset.objects.filter(pk=fleet.tc1.pk).update(origin=Origin.REQUALIFIED)
    batch = RequalificationBatch.objects.create(reference="LOT-2026-001", workshop=fleet.envie, created_by=cast.admin)
    BatchItem.objects.create(batch=batch, asset=fleet.tc1, origin_school=cast.sa1, eligibility="eligible",
                             result="converted")
    ticket = file_through_the_page(login(cast.teacher_sa1), "thin-client", school_class=fleet.class2.pk,
                                   device=fleet.tc1.tag)
    assert ticket.party == "agglomeration" and ticket.device == fleet.tc1
    assert who_sees_it_in_their_queue(cast, login, ticket) == {"technician"}
    assert login(cast.workshop).get(reverse("helpdesk:ticket", args=[ticket.pk])).status_code == 404
    response = login(cast.technician).post(reverse("helpdesk:ticket-action", args=[ticket.pk, "reorienter"]),
                                           {"party": "workshop", "note": "Appareil requalifié : retour atelier"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.party, ticket.party_workshop) == ("workshop", fleet.envie)
    assert who_sees_it_in_their_queue(cast, login, ticket) == {"workshop"}
    workshop = login(cast.workshop)
    html = workshop.get(reverse("helpdesk:ticket", args=[ticket.pk])).content.decode()
    assert "Atelier : Envie Loire" in html and "Appareil requalifié : retour atelier" in html
    assert workshop.post(reverse("helpdesk:ticket-action", args=[ticket.pk, "prendre"])).status_code == 302
    ticket.refresh_from_db()
    assert ticket.assignee == cast.workshop


def test_reassigning_to_a_workshop_that_does_not_know_the_device_is_refused(cast, login, fleet):
    ticket = file_through_the_page(login(cast.teacher_sa1), "projector", school_class=fleet.class1.pk,
                                   device=fleet.proj1.tag)
    response = login(cast.technician).post(reverse("helpdesk:ticket-action", args=[ticket.pk, "reorienter"]),
                                           {"party": "workshop", "note": "essai"})
    assert response.status_code == 400 and "Impossible de confier" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.party == "agglomeration"
