"""Knowledge base pages: reading (published for all, drafts for editors), search and category filter,
ordering by resolved requests then useful votes, "was this useful" (htmx), the editor's rights."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from preau.helpdesk import kb, services
from preau.helpdesk.models import Article, ArticleVote

from .hd import at, category, file


def article(user, title, body="Vérifiez la source HDMI.", cats=("projector",), published=True, summary=""):
    return kb.save_article(user, None, title=title, summary=summary, body=body,
                           categories=[category(s) for s in cats], published=published)


@pytest.fixture
def articles(cast):
    a = article(cast.admin, "Le vidéoprojecteur n'affiche rien", "Appuyez sur « Source » et choisissez HDMI 1.")
    b = article(cast.admin, "Redémarrer le client léger", "Maintenez le bouton 5 secondes.", cats=("thin-client",))
    c = article(cast.admin, "Brouillon Wi-Fi", "Pas encore relu.", cats=("wifi",), published=False)
    d = article(cast.advisor_c1, "Se former à l'ENT", "Les animations pédagogiques du mercredi.",
                cats=("training",), published=False)
    return a, b, c, d


def slugs(response):
    return [a.slug for a in response.context["page"]]


@pytest.mark.django_db
def test_teacher_reads_published_articles_only(cast, login, articles):
    a, b, c, d = articles
    client = login(cast.teacher_sa1)
    response = client.get(reverse("helpdesk:kb"))
    assert response.status_code == 200
    assert set(slugs(response)) == {a.slug, b.slug}
    assert client.get(reverse("helpdesk:kb-article", args=[a.slug])).status_code == 200
    assert client.get(reverse("helpdesk:kb-article", args=[c.slug])).status_code == 404
    assert client.get(reverse("helpdesk:kb-article", args=[d.slug])).status_code == 404


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client, articles):
    response = client.get(reverse("helpdesk:kb"))
    assert response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL))
    assert client.post(reverse("helpdesk:kb-vote", args=[articles[0].slug]), {"useful": "oui"}).status_code == 302
    assert ArticleVote.objects.count() == 0


@pytest.mark.django_db
def test_drafts_for_their_editors(cast, login, articles):
    a, b, c, d = articles
    assert set(slugs(login(cast.technician).get(reverse("helpdesk:kb")))) == {a.slug, b.slug, c.slug, d.slug}
    # The advisor sees the pedagogy draft, not the Wi-Fi one.
    assert set(slugs(login(cast.advisor_c1).get(reverse("helpdesk:kb")))) == {a.slug, b.slug, d.slug}
    assert set(slugs(login(cast.commune_a_staff).get(reverse("helpdesk:kb")))) == {a.slug, b.slug}


@pytest.mark.django_db
def test_search_and_category_filter(cast, login, articles):
    a, b, _c, _d = articles
    client = login(cast.teacher_sa1)
    assert slugs(client.get(reverse("helpdesk:kb"), {"q": "hdmi source"})) == [a.slug]
    assert slugs(client.get(reverse("helpdesk:kb"), {"q": "BOUTON"})) == [b.slug]
    assert slugs(client.get(reverse("helpdesk:kb"), {"q": "hdmi bouton"})) == []
    assert slugs(client.get(reverse("helpdesk:kb"), {"categorie": "thin-client"})) == [b.slug]
    response = client.get(reverse("helpdesk:kb"), {"q": "introuvable"})
    assert "Aucun article ne correspond" in response.content.decode()
    assert reverse("helpdesk:new") in response.content.decode()
    response = login(cast.committee).get(reverse("helpdesk:kb"), {"q": "introuvable"})
    assert reverse("helpdesk:new") not in response.content.decode()  # committees do not file requests


@pytest.mark.django_db
def test_ordering_resolved_first_then_useful(cast, login, articles):
    a, b, _c, _d = articles
    e = article(cast.admin, "Imprimante bloquée", cats=("printer",))
    services.do_vote(cast.teacher_sa1, b, True)
    client = login(cast.director_sa1)
    assert slugs(client.get(reverse("helpdesk:kb")))[:1] == [b.slug]
    ticket = file(cast.teacher_sa1, cast.sa1, now=at(2026, 11, 16))
    services.do_resolve_with_article(cast.teacher_sa1, ticket, e, now=at(2026, 11, 16, 10))
    assert slugs(client.get(reverse("helpdesk:kb")))[:2] == [e.slug, b.slug]
    page = client.get(reverse("helpdesk:kb-article", args=[e.slug])).content.decode()
    assert "a résolu 1 demande" in page


@pytest.mark.django_db
def test_vote_with_htmx_and_a_second_answer_replaces_the_first(cast, login, articles):
    a = articles[0]
    client = login(cast.teacher_sa1)
    url = reverse("helpdesk:kb-vote", args=[a.slug])
    response = client.post(url, {"useful": "oui"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="kb-vote"' in response.content.decode() and "Utile : 1" in response.content.decode()
    client.post(url, {"useful": "non"}, HTTP_HX_REQUEST="true")
    a.refresh_from_db()
    assert (a.useful_yes, a.useful_no) == (0, 1)
    assert ArticleVote.objects.filter(article=a).count() == 1
    assert client.post(url, {"useful": "peut-être"}).status_code == 400
    response = client.post(url, {"useful": "oui"})
    assert response.status_code == 302
    a.refresh_from_db()
    assert (a.useful_yes, a.useful_no) == (1, 0)


@pytest.mark.django_db
def test_vote_on_a_draft_out_of_reach_is_404(cast, login, articles):
    c = articles[2]
    assert login(cast.teacher_sa1).post(reverse("helpdesk:kb-vote", args=[c.slug]),
                                        {"useful": "oui"}).status_code == 404


@pytest.mark.django_db
def test_body_is_plain_text_escaped(cast, login):
    a = article(cast.admin, "Piège", "<script>alert(1)</script>\n\nDeuxième paragraphe")
    html = login(cast.teacher_sa1).get(reverse("helpdesk:kb-article", args=[a.slug])).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<p>Deuxième paragraphe</p>" in html


@pytest.mark.django_db
def test_agglomeration_creates_and_edits(cast, login):
    client = login(cast.technician)
    assert client.get(reverse("helpdesk:kb-create")).status_code == 200
    response = client.post(reverse("helpdesk:kb-create"), {
        "title": "Le Wi-Fi ne marche plus", "summary": "Trois vérifications", "body": "Redémarrez la borne.",
        "categories": [category("wifi").pk], "published": "on"})
    assert response.status_code == 302
    created = Article.objects.get(title="Le Wi-Fi ne marche plus")
    assert created.slug == "le-wi-fi-ne-marche-plus" and created.published and created.author == cast.technician
    response = client.post(reverse("helpdesk:kb-edit", args=[created.slug]), {
        "title": "Le Wi-Fi ne marche plus", "body": "Redémarrez la borne, puis la tablette.",
        "categories": [category("wifi").pk]})
    assert response.status_code == 302
    created.refresh_from_db()
    assert not created.published and "tablette" in created.body


@pytest.mark.django_db
def test_school_and_commune_may_not_write(cast, login, articles):
    for user in (cast.teacher_sa1, cast.director_sa1, cast.commune_a_staff, cast.committee, cast.workshop):
        client = login(user)
        assert client.get(reverse("helpdesk:kb-create")).status_code == 403
        assert client.post(reverse("helpdesk:kb-create"), {"title": "x", "body": "y"}).status_code == 403
        assert client.get(reverse("helpdesk:kb-edit", args=[articles[0].slug])).status_code == 403
    assert Article.objects.count() == 4


@pytest.mark.django_db
def test_advisor_writes_pedagogy_only(cast, login, articles):
    a, _b, _c, d = articles
    client = login(cast.advisor_c1)
    response = client.post(reverse("helpdesk:kb-create"), {
        "title": "Projeter un album", "body": "…", "categories": [category("projector").pk]})
    assert response.status_code == 400  # not a choice for an advisor
    response = client.post(reverse("helpdesk:kb-create"), {"title": "Sans catégorie", "body": "…"})
    assert response.status_code == 400 and "pédagogie" in response.content.decode()
    response = client.post(reverse("helpdesk:kb-create"), {
        "title": "Utiliser le TNI en maternelle", "body": "…", "categories": [category("pedagogy").pk],
        "published": "on"})
    assert response.status_code == 302
    assert client.get(reverse("helpdesk:kb-edit", args=[d.slug])).status_code == 200
    assert client.get(reverse("helpdesk:kb-edit", args=[a.slug])).status_code == 403


@pytest.mark.django_db
def test_list_runs_a_bounded_number_of_queries(cast, login):
    client = login(cast.teacher_sa1)
    for i in range(3):
        article(cast.admin, f"Article {i}", cats=("projector", "printer"))
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("helpdesk:kb")).status_code == 200
    for i in range(3, 15):
        article(cast.admin, f"Article {i}", cats=("projector", "wifi"))
    with CaptureQueriesContext(connection) as many:
        assert client.get(reverse("helpdesk:kb")).status_code == 200
    assert len(many) == len(few) <= 8
