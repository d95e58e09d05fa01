"""Every web view: an allowed and a denied case, scopes per role, bounded queries."""

import pytest
from django.urls import reverse

from preau.core.models import AuditEntry
from preau.territory.models import Access, Commune, Connectivity, School

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client, cast):
    for url in [reverse("home"), reverse("territory:map"), reverse("territory:schools"),
                reverse("territory:school", args=[cast.sa1.uai]), reverse("territory:communes"),
                reverse("territory:search"), reverse("territory:imports"), reverse("core:audit"),
                reverse("profile")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_login_page_is_french_and_labelled(client):
    response = client.get(reverse("login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'lang="fr"' in html
    assert '<label for="id_username">Identifiant</label>' in html
    assert "/static/django_htmx/htmx-2.min.js" in html or "htmx" in html


def test_login_with_password_then_logout(client, cast):
    response = client.post(reverse("login"), {"username": "director_sa1", "password": "pw-Preau-2026"})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_wrong_password_is_refused(client, cast):
    response = client.post(reverse("login"), {"username": "director_sa1", "password": "nope"})
    assert response.status_code == 200
    assert "Identifiant ou mot de passe incorrect" in response.content.decode()


def test_password_reset_sends_a_mail(client, cast, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "director_sa1@example.org"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/comptes/reset/" in mailoutbox[0].body


def test_home_counts_follow_the_scope(login, cast):
    html = login(cast.admin).get(reverse("home")).content.decode()
    assert '<span class="n">3</span>écoles' in html
    html = login(cast.director_sa1).get(reverse("home")).content.decode()
    assert '<span class="n">1</span>écoles' in html


@pytest.mark.parametrize("who,visible,hidden", [
    ("admin", ["0429901J", "0429903L", "0429902K"], []),
    ("committee", ["0429901J", "0429902K"], []),
    ("commune_a_staff", ["0429901J", "0429903L"], ["0429902K"]),
    ("advisor_c1", ["0429901J", "0429903L"], ["0429902K"]),
    ("director_sa1", ["0429901J"], ["0429903L", "0429902K"]),
    ("teacher_sa1", ["0429901J"], ["0429903L", "0429902K"]),
    ("workshop", [], ["0429901J", "0429903L", "0429902K"]),
])
def test_school_list_and_pages_follow_the_scope(login, cast, who, visible, hidden):
    client = login(getattr(cast, who))
    html = client.get(reverse("territory:schools")).content.decode()
    for uai in visible:
        assert uai in html
        assert client.get(reverse("territory:school", args=[uai])).status_code == 200
    for uai in hidden:
        assert uai not in html
        assert client.get(reverse("territory:school", args=[uai])).status_code == 404


def test_school_page_shows_classes_and_connectivity(login, cast):
    html = login(cast.director_sa1).get(reverse("territory:school", args=["0429901J"])).content.decode()
    assert "École des Tilleuls" in html
    assert "Classe 3" in html and "CM2" in html
    assert 'class="badge fibre"' in html


def test_commune_pages(login, cast):
    client = login(cast.commune_a_staff)
    html = client.get(reverse("territory:communes")).content.decode()
    assert "Saint-Étienne" in html and "Saint-Chamond" not in html
    assert client.get(reverse("territory:commune", args=["42218"])).status_code == 200
    assert client.get(reverse("territory:commune", args=["42207"])).status_code == 404


def test_search_by_name_uai_and_commune(login, cast):
    client = login(cast.admin)
    html = client.get(reverse("territory:search"), {"q": "tilleuls"}).content.decode()
    assert "0429901J" in html and "0429902K" not in html
    response = client.get(reverse("territory:search"), {"q": "0429902k"})
    assert response.status_code == 302 and response["Location"].endswith("/0429902K/")
    html = client.get(reverse("territory:search"), {"q": "Chamond"}).content.decode()
    assert "42207" in html
    # Out of scope: the director finds nothing of another school.
    html = login(cast.director_sa1).get(reverse("territory:search"), {"q": "Pré"}).content.decode()
    assert "0429902K" not in html


def test_school_list_filters(login, cast):
    client = login(cast.admin)
    html = client.get(reverse("territory:schools"), {"sector": "private"}).content.decode()
    assert "0429903L" in html and "0429901J" not in html
    html = client.get(reverse("territory:schools"), {"access": "fibre"}).content.decode()
    assert "0429901J" in html and "0429902K" not in html


def test_exports_follow_the_scope(login, cast):
    response = login(cast.director_sa1).get(reverse("territory:schools-export", args=["csv"]))
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response["Content-Type"].startswith("text/csv")
    assert "0429901J" in body and "0429902K" not in body
    assert body.splitlines()[0].startswith("UAI;Nom;")
    response = login(cast.admin).get(reverse("territory:schools-export", args=["xlsx"]))
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert login(cast.admin).get(reverse("territory:schools-export", args=["pdf"])).status_code == 404


def test_map_shows_schools_coloured_by_status(login, cast):
    Commune.objects.filter(pk=cast.commune_a.pk).update(boundary={
        "type": "Polygon", "coordinates": [[[4.3, 45.4], [4.5, 45.4], [4.5, 45.5], [4.3, 45.4]]]})
    html = login(cast.admin).get(reverse("territory:map")).content.decode()
    assert html.count("data-uai=") == 3
    assert 'class="s-fibre" data-uai="0429901J"' in html
    assert 'class="s-other" data-uai="0429902K"' in html
    assert 'class="s-unknown" data-uai="0429903L"' in html
    assert 'class="commune"' in html
    html = login(cast.director_sa1).get(reverse("territory:map")).content.decode()
    assert html.count("data-uai=") == 1


def _many_schools(cast, n=250):
    from preau.territory.codes import uai_check_letter

    schools = []
    for i in range(n):
        digits = f"0427{i:03d}"
        schools.append(School(uai=digits + uai_check_letter(digits), name=f"École {i}", commune=cast.commune_b,
                              circonscription=cast.circ2, lat=45.4 + i / 1000, lon=4.4))
    School.objects.bulk_create(schools)
    Connectivity.objects.bulk_create([Connectivity(school=s, access=Access.ADSL) for s in schools[:100]])


def test_school_list_and_map_use_a_bounded_number_of_queries(login, cast, django_assert_max_num_queries):
    _many_schools(cast)
    client = login(cast.admin)
    with django_assert_max_num_queries(20):
        response = client.get(reverse("territory:schools"))
    assert response.status_code == 200
    assert "253 écoles" in response.content.decode()
    with django_assert_max_num_queries(20):
        response = client.get(reverse("territory:map"))
    assert response.content.decode().count("data-uai=") == 253
    with django_assert_max_num_queries(20):
        client.get(reverse("territory:communes"))
    with django_assert_max_num_queries(20):
        client.get(reverse("territory:commune", args=["42207"]))


def test_connectivity_edit_allowed_for_commune_staff_and_audited(login, cast):
    client = login(cast.commune_a_staff)
    url = reverse("territory:connectivity-edit", args=["0429903L"])
    assert client.get(url).status_code == 200
    response = client.post(url, {"access": "fibre", "network": "amii", "operator": "Orange",
                                 "bandwidth_mbps": "500", "connected_on": "2026-10-01", "planned_on": ""})
    assert response.status_code == 302
    conn = Connectivity.objects.get(school=cast.sa2)
    assert conn.access == "fibre" and conn.bandwidth_mbps == 500 and conn.source == "manual"
    entry = AuditEntry.objects.get(object_type="territory.connectivity", object_id=str(cast.sa2.pk))
    assert entry.user == cast.commune_a_staff and entry.action == "create"
    assert entry.after["access"] == "fibre"


def test_connectivity_edit_htmx_returns_the_fragment(login, cast):
    client = login(cast.admin)
    url = reverse("territory:connectivity-edit", args=["0429902K"])
    response = client.post(url, {"access": "4g", "network": "rip", "bandwidth_mbps": "30"},
                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="connectivity"' in html and "<html" not in html and "Connectivité enregistrée" in html
    entry = AuditEntry.objects.get(object_type="territory.connectivity", object_id=str(cast.sb1.pk))
    assert entry.before == {"access": "adsl", "bandwidth_mbps": None, "source": ""}
    assert entry.after == {"access": "4g", "bandwidth_mbps": 30, "source": "manual"}


def test_connectivity_edit_rejects_bad_values(login, cast):
    response = login(cast.admin).post(reverse("territory:connectivity-edit", args=["0429902K"]),
                                      {"access": "cable", "bandwidth_mbps": "-3"})
    assert response.status_code == 400
    assert Connectivity.objects.get(school=cast.sb1).access == "adsl"


@pytest.mark.parametrize("who,status", [("director_sa1", 403), ("advisor_c1", 403), ("committee", 403),
                                        ("technician", 403), ("director_sb1", 404)])
def test_connectivity_edit_denied(login, cast, who, status):
    url = reverse("territory:connectivity-edit", args=["0429901J"])
    client = login(getattr(cast, who))
    assert client.get(url).status_code == status
    assert client.post(url, {"access": "none"}).status_code == status
    assert Connectivity.objects.get(school=cast.sa1).access == "fibre"


def test_audit_log_admin_only(login, cast):
    from preau.territory import services

    services.do_update_school(cast.admin, cast.sa1, pupils=230)
    html = login(cast.admin).get(reverse("core:audit")).content.decode()
    assert "École des Tilleuls" in html and "230" in html
    for who in ["technician", "committee", "commune_a_staff", "director_sa1"]:
        assert login(getattr(cast, who)).get(reverse("core:audit")).status_code == 403


def test_profile_shows_and_renews_the_api_token(login, cast):
    client = login(cast.teacher_sa1)
    assert "Créer un jeton" in client.get(reverse("profile")).content.decode()
    client.post(reverse("profile"))
    html = client.get(reverse("profile")).content.decode()
    token = cast.teacher_sa1.auth_token.key
    assert token in html
    assert client.get("/api/v1/schools/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_language_switch_to_english(login, cast):
    client = login(cast.admin)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    html = client.get(reverse("home")).content.decode()
    assert 'lang="en"' in html


def test_french_plural_of_zero_is_singular(login, cast):
    html = login(cast.workshop).get(reverse("territory:schools")).content.decode()
    assert "0 école" in html and "0 écoles" not in html


def test_commune_list_counts_only_visible_schools(login, cast):
    """An advisor of C1 sees commune A; A's counts must not include schools outside C1."""
    from preau.territory.models import School as S

    S.objects.create(uai="0429905N", name="École hors circonscription", commune=cast.commune_a,
                     circonscription=cast.circ2)
    html = login(cast.advisor_c1).get(reverse("territory:communes")).content.decode()
    row = html.split("42218</td>")[1].split("</tr>")[0]
    assert '<td class="num">2</td>' in row and '<td class="num">3</td>' not in row
    html = login(cast.admin).get(reverse("territory:communes")).content.decode()
    assert '<td class="num">3</td>' in html.split("42218</td>")[1].split("</tr>")[0]
