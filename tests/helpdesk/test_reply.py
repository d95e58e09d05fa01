"""Reply by the e-mail's link (no password): the public thread and a form; expired, forged or foreign
tokens get a clear French page (400). And the notification preferences page."""

import re

import pytest
from django.core import mail, signing
from django.urls import reverse

from preau.helpdesk import notify, services
from preau.helpdesk.models import Category, Comment, NotificationPreference

pytestmark = pytest.mark.django_db


def file(user, school, slug="projector"):
    return services.do_create_ticket(user, school=school, category=Category.objects.get(slug=slug),
                                     description="Panne <b>totale</b>", notify_party=False)


def test_reply_link_from_the_mail_adds_a_public_comment(cast, client, django_capture_on_commit_callbacks):
    ticket = file(cast.teacher_sa1, cast.sa1)
    services.do_comment(cast.technician, ticket, "Note interne secrète", internal=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.do_change_status(cast.technician, ticket, "waiting_school", note="Le câble est-il branché ?")
    body = mail.outbox[-1].body
    url = re.search(r"http://\S+/assistance/repondre/\S+/", body).group(0)
    path = url.split("127.0.0.1:8000", 1)[-1] if "127.0.0.1:8000" in url else "/" + url.split("/", 3)[3]
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Le câble est-il branché ?" in html and "Note interne secrète" not in html
    assert "<b>totale" not in html and "&lt;b&gt;totale" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, {"body": "Oui, il est branché."})
    assert response.status_code == 200 and "Merci" in response.content.decode()
    comment = Comment.objects.get(body="Oui, il est branché.")
    assert comment.via_link and comment.author == cast.teacher_sa1 and not comment.internal
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"  # the school answered: the clock runs again
    empty = client.post(path, {"body": ""})
    assert empty.status_code == 400 and "Le message est vide." in empty.content.decode()


def test_forged_expired_and_foreign_tokens(cast, client, settings):
    ticket = file(cast.teacher_sa1, cast.sa1)
    good = notify.reply_token(ticket.pk, cast.teacher_sa1.pk)
    response = client.get(reverse("helpdesk:reply", args=[good[:-3] + "abc"]))
    assert response.status_code == 400 and "n&#x27;est pas valable" in response.content.decode()
    forged = signing.dumps({"t": ticket.pk, "u": cast.teacher_sa1.pk}, salt="another", compress=True)
    assert client.post(reverse("helpdesk:reply", args=[forged]), {"body": "x"}).status_code == 400
    # a token for someone who is not the requester
    other = notify.reply_token(ticket.pk, cast.director_sb1.pk)
    response = client.post(reverse("helpdesk:reply", args=[other]), {"body": "intrus"})
    assert response.status_code == 400 and "ne correspond plus" in response.content.decode()
    settings.PREAU_HELPDESK_REPLY_DAYS = -1
    response = client.get(reverse("helpdesk:reply", args=[good]))
    assert response.status_code == 400 and "a expiré" in response.content.decode()
    assert not Comment.objects.exists()


def test_preferences_page(cast, login, client, django_capture_on_commit_callbacks):
    url = reverse("helpdesk:preferences")
    assert client.get(url).status_code == 302  # anonymous: to the login page
    tech = login(cast.technician)
    assert tech.get(url).status_code == 200
    assert tech.post(url, {"my_requests": "on", "deadlines": "on"}).status_code == 302
    prefs = NotificationPreference.objects.get(user=cast.technician)
    assert (prefs.new_in_queue, prefs.my_requests, prefs.deadlines) == (False, True, True)
    with django_capture_on_commit_callbacks(execute=True):
        services.do_create_ticket(cast.teacher_sa1, school=cast.sa1, category=Category.objects.get(slug="projector"))
    assert [m.to for m in mail.outbox] == [["admin@example.org"]]  # the technician turned it off
