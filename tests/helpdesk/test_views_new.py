"""Filing a request: the school and class pre-filled, problems as big buttons, devices of the class,
?appareil= from the QR label, suggestions before sending (self-help creates nothing), notifications."""

import pytest
from django.core import mail
from django.urls import reverse

from preau.helpdesk.models import Article, Category, Ticket

from . import fixtures_tickets

fleet = fixtures_tickets.fleet  # the fleet cast (tests/fleet/conftest.py) as a fixture here

pytestmark = pytest.mark.django_db
NEW = reverse("helpdesk:new")


def cat(slug):
    return Category.objects.get(slug=slug)


def test_teacher_sees_buttons_school_and_single_class_prefill(cast, login):
    response = login(cast.teacher_sa1).get(NEW)
    assert response.status_code == 200
    html = response.content.decode()
    assert cast.sa1.name in html
    assert "Le vidéoprojecteur ou l&#x27;écran interactif n&#x27;affiche rien" in html
    assert html.count('name="category"') == Category.objects.filter(active=True).count()
    assert "Bâtiment (électricité, câblage, salle)" in html  # grouped by domain
    # sb1 has one class: it is pre-filled
    html_b = login(cast.director_sb1).get(NEW).content.decode()
    klass = cast.sb1.classes.get()
    assert f'<option value="{klass.pk}" selected>' in html_b


def test_file_projector_request_lands_with_agglomeration_and_mails_party(cast, login, fleet, django_capture_on_commit_callbacks):
    client = login(cast.teacher_sa1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(NEW, {"category": cat("projector").pk, "school_class": fleet.class1.pk,
                                     "device": fleet.proj1.tag, "description": "Écran noir <script>alert(1)</script>"})
    assert response.status_code == 302, response.content.decode()[:2000]
    ticket = Ticket.objects.get()
    assert response.url == reverse("helpdesk:ticket", args=[ticket.pk])
    assert (ticket.school, ticket.school_class, ticket.device, ticket.party) == (
        cast.sa1, fleet.class1, fleet.proj1, "agglomeration")
    assert ticket.requester == cast.teacher_sa1
    to = sorted(addr for m in mail.outbox for addr in m.to)
    assert to == ["admin@example.org", "technician@example.org"]
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert f"AS-{ticket.pk}" in message.subject
    # the class is remembered for the next request
    page = client.get(NEW).content.decode()
    assert f'<option value="{fleet.class1.pk}" selected>' in page


def test_devices_filtered_by_category_and_class(cast, login, fleet):
    client = login(cast.teacher_sa1)
    html = client.get(reverse("helpdesk:new-assist"), {"category": cat("projector").pk,
                                                       "school_class": fleet.class1.pk}).content.decode()
    assert fleet.proj1.tag in html and fleet.pc1.tag not in html and fleet.tc1.tag not in html
    html = client.get(reverse("helpdesk:new-assist"), {"category": cat("training").pk}).content.decode()
    assert 'name="device"' not in html  # a training need names no device
    # a device of another school cannot be posted
    response = client.post(NEW, {"category": cat("thin-client").pk, "device": fleet.pc_b.tag})
    assert response.status_code == 400 and not Ticket.objects.exists()


def test_qr_label_prefills_device_school_class_and_category(cast, login, fleet):
    html = login(cast.teacher_sa1).get(NEW, {"appareil": fleet.proj1.tag}).content.decode()
    assert f'value="{fleet.proj1.tag}" selected' in html
    assert f'<option value="{fleet.class1.pk}" selected>' in html
    assert f'value="{cat("projector").pk}" data-slug="projector" required checked' in html


def test_asset_page_links_to_report_for_filers_only(cast, login, fleet):
    url = reverse("fleet:asset", args=[fleet.proj1.tag])
    html = login(cast.teacher_sa1).get(url).content.decode()
    assert f'{NEW}?appareil={fleet.proj1.tag}' in html and "Signaler un problème" in html
    html = login(cast.commune_a_staff).get(url).content.decode()
    assert "Signaler un problème" not in html


def test_agglomeration_picks_a_school(cast, login):
    client = login(cast.technician)
    assert 'name="ecole"' in client.get(NEW).content.decode()
    response = client.get(NEW, {"ecole": "0000000X"})
    assert response.status_code == 400 and "École inconnue" in response.content.decode()
    response = client.post(NEW, {"ecole": cast.sb1.uai, "category": cat("electricity").pk, "description": "x"})
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.school == cast.sb1 and ticket.party == "commune" and ticket.party_commune == cast.commune_b


@pytest.mark.parametrize("who", ["committee", "commune_a_staff", "advisor_c1", "workshop"])
def test_others_cannot_file(cast, login, who):
    assert login(getattr(cast, who)).get(NEW).status_code == 403
    assert login(getattr(cast, who)).post(NEW, {"category": cat("other").pk}).status_code == 403
    assert not Ticket.objects.exists()


def test_anonymous_redirected(client):
    assert client.get(NEW).status_code == 302


def test_missing_category_is_a_french_error(cast, login):
    response = login(cast.teacher_sa1).post(NEW, {"description": "rien"})
    assert response.status_code == 400
    assert "Choisissez ce qui ne va pas." in response.content.decode()


def _article(title, category, resolved=0, published=True, summary=""):
    from django.utils import timezone
    a = Article.objects.create(title=title, slug=title.lower().replace(" ", "-")[:60], body="…", summary=summary,
                               published=published, updated_at=timezone.now(), resolved_count=resolved)
    if category:
        a.categories.add(category)
    return a


def test_suggestions_most_resolving_first_and_self_help_creates_nothing(cast, login):
    projector = cat("projector")
    low = _article("Vérifier la source", projector, resolved=1)
    high = _article("Rallumer le projecteur", projector, resolved=9)
    _article("Brouillon", projector, resolved=50, published=False)
    wifi = _article("Wifi coupé", cat("wifi"), summary="Redémarrer la borne")
    client = login(cast.teacher_sa1)
    html = client.get(reverse("helpdesk:new-assist"), {"category": projector.pk}).content.decode()
    assert html.index(high.title) < html.index(low.title)
    assert "Brouillon" not in html and wifi.title not in html
    html = client.get(reverse("helpdesk:new-assist"), {"description": "la borne clignote"}).content.decode()
    assert wifi.title in html
    response = client.post(reverse("helpdesk:self-resolved"), {"article": low.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "aucune demande" in response.content.decode()
    low.refresh_from_db()
    assert (low.resolved_count, low.useful_yes) == (2, 1)
    client.post(reverse("helpdesk:self-resolved"), {"article": low.pk})  # twice: counted once
    low.refresh_from_db()
    assert (low.resolved_count, low.useful_yes) == (2, 1)
    assert not Ticket.objects.exists()
    assert client.get(reverse("helpdesk:self-resolved")).status_code == 405


def test_the_class_only_device_of_the_kind_is_preselected(cast, login, fleet):
    client = login(cast.teacher_sa1)
    assist = reverse("helpdesk:new-assist")
    params = {"category": cat("projector").pk, "school_class": fleet.class1.pk}
    assert f'value="{fleet.proj1.tag}" selected' in client.get(assist, params).content.decode()
    # "je ne sais pas" chosen by the user stays chosen
    assert f'value="{fleet.proj1.tag}" selected' not in client.get(assist, {**params, "device": ""}).content.decode()
    # choosing the class (htmx names the field that changed) guesses again
    html = client.get(assist, {**params, "device": ""}, HTTP_HX_TRIGGER_NAME="school_class").content.decode()
    assert f'value="{fleet.proj1.tag}" selected' in html
    # no class chosen: nothing guessed
    assert f'value="{fleet.proj1.tag}" selected' not in client.get(assist, {"category": cat("projector").pk}).content.decode()


def test_qr_label_of_another_school_is_404(cast, login, fleet):
    assert login(cast.teacher_sa1).get(NEW, {"appareil": fleet.pc_b.tag}).status_code == 404
    assert login(cast.teacher_sa1).get(NEW, {"appareil": "SEM-99999"}).status_code == 404


def test_assist_fragment_and_self_help_denied(cast, login, client):
    assist = reverse("helpdesk:new-assist")
    assert client.get(assist).status_code == 302  # anonymous: to the login page
    assert client.post(reverse("helpdesk:self-resolved"), {"article": 1}).status_code == 302
    assert login(cast.committee).get(assist, {"ecole": cast.sa1.uai}).status_code == 403
    assert login(cast.teacher_sa1).get(assist).status_code == 200
    assert login(cast.teacher_sa1).post(reverse("helpdesk:self-resolved"), {"article": 999}).status_code == 404
