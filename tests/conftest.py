"""Shared test cast: a tiny territory and one user per role (plus outsiders).

    commune A (42218 Saint-Étienne, 2 schools: sa1 public, sa2 private) — circonscription C1
    commune B (42207 Saint-Chamond, 1 school: sb1) — circonscription C2
Users: admin, technician, committee, commune_a (staff of A), advisor_c1, director_sa1,
teacher_sa1, director_sb1, workshop. Password of all: "pw-Preau-2026".
"""

import os
from pathlib import Path

import pytest

from preau.accounts.models import Role, User
from preau.territory.models import (
    Access,
    Circonscription,
    Commune,
    Connectivity,
    Epci,
    FibreNetwork,
    School,
    SchoolClass,
    Sector,
    stratum_for,
)

PASSWORD = "pw-Preau-2026"
# The project's open data lives beside the repository (../shared/data); PREAU_SHARED_DATA overrides it.
SHARED_DATA = Path(os.environ.get("PREAU_SHARED_DATA",
                                  Path(__file__).resolve().parent.parent.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached counts (dashboard, assistance counts, freshness) never leak from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2's many iterations cost seconds per cast; tests check access rules, not hash strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared open data not found at {SHARED_DATA}")
    return SHARED_DATA


class Cast:
    pass


def make_user(username: str, role: str, **extra) -> User:
    user = User(username=username, role=role, first_name=username.replace("_", " ").title(),
                email=f"{username}@example.org", **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def cast(db) -> Cast:
    c = Cast()
    c.epci = Epci.objects.create(siren="244200770", name="Saint-Étienne Métropole", kind="ME")
    c.commune_a = Commune.objects.create(insee="42218", name="Saint-Étienne", population=173000,
                                         stratum=stratum_for(173000), epci=c.epci, department="42",
                                         fibre_network=FibreNetwork.AMII)
    c.commune_b = Commune.objects.create(insee="42207", name="Saint-Chamond", population=35000,
                                         stratum=stratum_for(35000), epci=c.epci, department="42",
                                         fibre_network=FibreNetwork.RIP)
    c.circ1 = Circonscription.objects.create(name="Saint-Étienne Centre", department="42")
    c.circ2 = Circonscription.objects.create(name="Saint-Chamond", department="42")
    c.sa1 = School.objects.create(uai="0429901J", name="École des Tilleuls", kind="primaire",
                                  commune=c.commune_a, circonscription=c.circ1, lat=45.4391, lon=4.3872,
                                  pupils=212)
    c.sa2 = School.objects.create(uai="0429903L", name="École Sainte-Marie", kind="primaire",
                                  sector=Sector.PRIVATE, contract="association", commune=c.commune_a,
                                  circonscription=c.circ1, lat=45.44, lon=4.39, pupils=158)
    c.sb1 = School.objects.create(uai="0429902K", name="École maternelle Le Pré", kind="maternelle",
                                  commune=c.commune_b, circonscription=c.circ2, lat=45.4756, lon=4.5148,
                                  pupils=96)
    Connectivity.objects.create(school=c.sa1, access=Access.FIBRE, network=FibreNetwork.AMII)
    Connectivity.objects.create(school=c.sb1, access=Access.ADSL, network=FibreNetwork.RIP)
    for i, level in enumerate(["CP", "CE1", "CM2"], start=1):
        SchoolClass.objects.create(school=c.sa1, year=2026, name=f"Classe {i}", level=level, pupils=25)
    SchoolClass.objects.create(school=c.sb1, year=2026, name="Classe 1", level="PS", pupils=24)
    c.admin = make_user("admin", Role.ADMIN)
    c.technician = make_user("technician", Role.TECHNICIAN)
    c.committee = make_user("committee", Role.COMMITTEE)
    c.commune_a_staff = make_user("commune_a", Role.COMMUNE)
    c.commune_a_staff.communes.add(c.commune_a)
    c.advisor_c1 = make_user("advisor_c1", Role.ADVISOR)
    c.advisor_c1.circonscriptions.add(c.circ1)
    c.director_sa1 = make_user("director_sa1", Role.DIRECTOR, school=c.sa1)
    c.teacher_sa1 = make_user("teacher_sa1", Role.TEACHER, school=c.sa1)
    c.director_sb1 = make_user("director_sb1", Role.DIRECTOR, school=c.sb1)
    c.workshop = make_user("workshop", Role.WORKSHOP, organisation="Envie Loire")
    return c


@pytest.fixture
def login(client):
    """login(user) -> the Django test client logged in as user."""

    def _login(user):
        client.force_login(user)
        return client

    return _login
