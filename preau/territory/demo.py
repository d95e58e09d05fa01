"""The demo territory, built by code: an agglomeration like Saint-Étienne Métropole, but invented.

About 50 communes on a hexagonal grid around a city of 170,000 inhabitants, ~300 schools,
~1,800 classes, fibre from the public RIP, the Orange AMII zone or not yet. Deterministic
for a given seed. Invented codes: INSEE 429xx and UAI 0428xxx (valid check letters).
"""

import datetime
import math

from preau.core import demo

from .codes import uai_check_letter
from .models import (
    Access,
    Circonscription,
    Commune,
    Connectivity,
    ConnectivitySource,
    Contract,
    Epci,
    FibreNetwork,
    School,
    SchoolClass,
    SchoolKind,
    Sector,
    current_school_year,
    stratum_for,
)

CENTRE = (45.4397, 4.3872)  # lat, lon
HEX = 0.055  # cell radius in degrees of latitude
PARTS_A = ["Saint-", "Sainte-", "La ", "Le ", "", "", "", "Les "]
PARTS_B = ["Genest", "Priest", "Jean", "Martin", "Romain", "Paul", "Christo", "Héand", "Marcellin", "Chamond",
           "Bonnet", "Victor", "Galmier", "Just", "Maurice", "Roche", "Cèdres", "Fouillouse", "Tour", "Ricamarie",
           "Valla", "Farnay", "Sorbiers", "Chazeau", "Pélussin", "Grand-Croix", "Doizieux", "Marlhes", "Jonzieux",
           "Planfoy", "Rozier", "Tarentaise", "Caloire", "Unieux", "Firminy", "Fraisses", "Cellieu", "Lorette",
           "Genilac", "Dargoire", "Tartaras", "Chagnon", "Pavezin", "Valfleury", "Fontanès", "Chambœuf", "Aboën",
           "Rochetaillée", "Essertines", "Périgneux", "Roisey", "Bessey", "Malleval", "Vérin"]
PARTS_C = ["", "", "", "-en-Jarez", "-sur-Loire", "-le-Château", "-la-Montagne", "-du-Pilat", "-en-Forez"]
STREETS = ["rue de l'École", "place de la Mairie", "rue Victor-Hugo", "avenue Jean-Jaurès", "rue Pasteur",
           "chemin des Écoliers", "rue de la République", "rue des Tilleuls", "montée du Calvaire", "rue du Stade"]
SCHOOL_NAMES = ["Jules-Ferry", "Louise-Michel", "Les Tilleuls", "Le Bourg", "Jean-Moulin", "Marie-Curie",
                "Victor-Hugo", "Jacques-Prévert", "Les Marronniers", "La Fontaine", "Pasteur", "Le Soleil",
                "Les Peupliers", "Condorcet", "Paul-Bert", "Saint-Joseph", "Notre-Dame", "Sainte-Marie",
                "Le Petit Prince", "Les Hirondelles"]
LEVELS_MAT = ["PS", "MS", "GS"]
LEVELS_ELE = ["CP", "CE1", "CE2", "CM1", "CM2"]


def _hex_cells(n: int) -> list[tuple[int, int]]:
    """n axial hex coordinates in rings around (0, 0)."""
    cells = [(0, 0)]
    ring = 1
    directions = [(1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)]
    while len(cells) < n:
        q, r = -ring, ring
        for dq, dr in directions:
            for _ in range(ring):
                cells.append((q, r))
                q, r = q + dq, r + dr
        ring += 1
    return cells[:n]


def _cell_centre(q: int, r: int) -> tuple[float, float]:
    kx = 1 / math.cos(math.radians(CENTRE[0]))
    x = HEX * math.sqrt(3) * (q + r / 2)
    y = HEX * 1.5 * r
    return CENTRE[0] - y, CENTRE[1] + x * kx


def _hexagon(lat: float, lon: float) -> dict:
    kx = 1 / math.cos(math.radians(CENTRE[0]))
    ring = []
    for i in range(7):
        a = math.radians(60 * (i % 6) + 30)
        ring.append([round(lon + HEX * math.cos(a) * kx, 5), round(lat + HEX * math.sin(a), 5)])
    return {"type": "Polygon", "coordinates": [ring]}


def _population(rng, i: int) -> int:
    if i == 0:
        return 170_000
    if i < 4:
        return rng.randint(18_000, 40_000)
    if i < 12:
        return rng.randint(4_000, 12_000)
    if i < 30:
        return rng.randint(1_500, 3_900)
    if i < 42:
        return rng.randint(500, 1_490)
    return rng.randint(300, 499)


def _uai(n: int) -> str:
    digits = f"0428{n:03d}"
    return digits + uai_check_letter(digits)


def build_territory(rng, context: dict) -> dict:
    year = current_school_year()
    epci = Epci.objects.create(siren="200000001", name="Agglomération de démonstration", kind="ME")
    cells = _hex_cells(50)
    # Populations decrease from the centre outwards (rural rim).
    communes, used = [], set()
    for i, (q, r) in enumerate(cells):
        name = ""
        while not name or name in used:
            name = ("Saint-Étienne-la-Grande" if i == 0 else
                    rng.choice(PARTS_A) + rng.choice(PARTS_B) + rng.choice(PARTS_C)).replace("Le Les", "Les")
        used.add(name)
        pop = _population(rng, i)
        lat, lon = _cell_centre(q, r)
        ring = max(abs(q), abs(r), abs(q + r))
        network = FibreNetwork.AMII if ring <= 1 else (FibreNetwork.RIP if ring <= 3 or rng.random() < .5
                                                       else FibreNetwork.NONE)
        housing = pop // 2
        premises = (housing if network == FibreNetwork.AMII else
                    int(housing * rng.uniform(.3, 1)) if network == FibreNetwork.RIP else 0)
        communes.append(Commune(
            insee=f"429{i + 1:02d}", name=name, department="42", population=pop, stratum=stratum_for(pop),
            siren=f"21429{i + 1:04d}", postal_codes=f"42{400 + i * 3:03d}", epci=epci,
            fibre_network=network, fibre_operator="ORAN" if network == FibreNetwork.AMII else
            ("THD4" if network == FibreNetwork.RIP else ""), fibre_premises=premises, fibre_housing=housing,
            fibre_period="démo", boundary=_hexagon(lat, lon), lat=lat, lon=lon,
        ))
    Commune.objects.bulk_create(communes)
    communes = list(Commune.objects.filter(epci=epci).order_by("insee"))
    circs = [Circonscription.objects.create(name=f"Circonscription de démonstration {n}", department="42")
             for n in range(1, 13)]

    schools, plans = [], []
    n = 0
    for ci, commune in enumerate(communes):
        count = 95 if ci == 0 else max(1, round(commune.population / 1250))
        for k in range(count):
            n += 1
            private = rng.random() < (0.22 if commune.population > 3000 else 0.08)
            kind = rng.choices([SchoolKind.MATERNELLE, SchoolKind.ELEMENTAIRE, SchoolKind.PRIMAIRE],
                               [3, 3, 4] if commune.population > 3000 else [1, 1, 8])[0]
            base = rng.choice(SCHOOL_NAMES[15:] if private else SCHOOL_NAMES[:15])
            label = {"maternelle": "École maternelle", "elementaire": "École élémentaire",
                     "primaire": "École primaire"}[kind]
            spread = 0.03 if ci == 0 else 0.012
            school = School(
                uai=_uai(n), name=f"{label} {'privée ' if private else ''}{base}" + (f" {k + 1}" if count > 1 else ""),
                kind=kind, sector=Sector.PRIVATE if private else Sector.PUBLIC,
                contract=Contract.ASSOCIATION if private else Contract.NONE,
                address=f"{rng.randint(1, 80)} {rng.choice(STREETS)}", postal_code=commune.postal_codes[:5],
                commune=commune, circonscription=circs[min(ci // 4, 11) if ci else n % 4],
                lat=commune.lat + rng.uniform(-spread, spread), lon=commune.lon + rng.uniform(-spread, spread) * 1.4,
                phone=f"04 77 {rng.randint(10, 99)} {rng.randint(10, 99)} {rng.randint(10, 99)}",
                email=f"ce.{_uai(n).lower()}@ac-demo.fr", source="demo",
            )
            schools.append(school)
            plans.append((school, commune, rng.random(), rng.random()))
    School.objects.bulk_create(schools)

    classes, connectivity = [], []
    for school, commune, roll, roll2 in plans:
        village = commune.population < 1500
        n_classes = (rng.randint(1, 3) if village else
                     rng.randint(3, 6) if school.kind == SchoolKind.MATERNELLE else
                     rng.randint(6, 11) if school.kind == SchoolKind.ELEMENTAIRE else rng.randint(4, 10))
        levels = (LEVELS_MAT if school.kind == SchoolKind.MATERNELLE else
                  LEVELS_ELE if school.kind == SchoolKind.ELEMENTAIRE else LEVELS_MAT + LEVELS_ELE)
        pupils = 0
        for c in range(n_classes):
            size = rng.randint(18, 27)
            pupils += size
            if village and n_classes < len(levels):  # small rural schools have multi-level classes
                level = "MAT" if school.kind == SchoolKind.MATERNELLE else "ELE"
            else:
                level = levels[round(c * (len(levels) - 1) / max(n_classes - 1, 1))]
            classes.append(SchoolClass(school=school, year=year, name=f"Classe {c + 1}", level=level, pupils=size))
        school.pupils = pupils
        if commune.fibre_network == FibreNetwork.AMII and roll < 0.85 or \
                commune.fibre_network == FibreNetwork.RIP and roll < 0.55:
            conn = Connectivity(school=school, access=Access.FIBRE, network=commune.fibre_network,
                                operator="Orange" if commune.fibre_network == FibreNetwork.AMII else "THD42",
                                bandwidth_mbps=rng.choice([100, 300, 500, 1000]),
                                connected_on=datetime.date(2016 + int(roll2 * 9), 1 + int(roll * 11), 1))
        elif roll < 0.96:
            planned = (datetime.date(year + 1 + int(roll2 * 3), 1 + int(roll2 * 11), 1)
                       if commune.fibre_network != FibreNetwork.NONE else None)
            conn = Connectivity(school=school, access=Access.ADSL, network=commune.fibre_network, operator="Orange",
                                bandwidth_mbps=rng.choice([2, 4, 8, 12, 20]), planned_on=planned)
        else:
            conn = Connectivity(school=school, access=rng.choice([Access.MOBILE, Access.NONE]),
                                network=commune.fibre_network)
        conn.source = ConnectivitySource.DEMO
        connectivity.append(conn)
    School.objects.bulk_update(schools, ["pupils"], batch_size=500)
    SchoolClass.objects.bulk_create(classes, batch_size=1000)
    Connectivity.objects.bulk_create(connectivity, batch_size=1000)
    context.update(epci=epci, communes=communes, circonscriptions=circs, schools=schools)
    return {"communes": len(communes), "schools": len(schools), "classes": len(classes),
            "fibre": sum(1 for c in connectivity if c.access == Access.FIBRE)}


demo.register(10, "territory", build_territory)
