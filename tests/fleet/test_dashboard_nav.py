"""The fleet on the dashboard (devices by status, a bar and its table), in the navigation per role, in stats."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_dashboard_shows_the_devices_of_the_users_scope(fleet, cast, login):
    html = login(cast.admin).get(reverse("home")).content.decode()
    assert "Parc : 6 appareils" in html and 'class="st-deployed"' in html
    # The director of sb1 sees only sb1's single device.
    html = login(cast.director_sb1).get(reverse("home")).content.decode()
    assert "Parc : 1 appareil" in html


def test_dashboard_without_devices_has_no_fleet_section(cast, login):
    html = login(cast.admin).get(reverse("home")).content.decode()
    assert "Parc :" not in html


@pytest.mark.parametrize("user,present,absent", [
    ("admin", ["Parc", "Stock", "Lots", "Agents", "Salles"], []),
    ("teacher_sa1", ["Parc"], ["Stock", "Lots", "Agents", "Salles"]),
    ("director_sa1", ["Parc", "Salles"], ["Stock", "Lots", "Agents"]),
    ("workshop", ["Lots"], ["Parc", "Stock", "Agents", "Salles"]),
    ("committee", ["Parc", "Stock", "Lots", "Salles"], ["Agents"]),
])
def test_navigation_per_role(cast, login, user, present, absent):
    response = login(getattr(cast, user)).get(reverse("home"))
    labels = [label for _url, label in response.context["nav_items"]]
    for label in present:
        assert label in labels, (user, label)
    for label in absent:
        assert label not in labels, (user, label)


def test_stats_json_counts_devices_by_category_and_status(fleet, capsys):
    call_command("stats", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["fleet"]["assets"] == 6
    assert data["fleet"]["by_category"] == {"desktop": 3, "projector": 1, "thin_client": 2}
    assert data["fleet"]["by_status"] == {"deployed": 5, "in_stock": 1}
