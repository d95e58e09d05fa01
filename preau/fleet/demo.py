"""The demo fleet, built by code after the demo territory (10) and accounts (20): ~5,000 devices.

A realistic catalogue (Dell, HP and Lenovo PCs of 2008–2020, thin clients, Epson and BenQ
interactive projectors, Speechi and Promethean interactive screens, tablets and their carts,
Synology NAS, switches, Wi-Fi access points, printers, Thymio and Blue-Bot robot kits).
Each class has the slots of the plan (the teacher's thin client or PC, a projector or a
screen), each school its own (NAS, switch, sometimes a Wi-Fi access point and a tablet
cart); most slots are filled, some are empty, some hold a failed device. Stock, repairs and
retired devices wait at the depot. Two partner workshops, the demo workshop user ("atelier")
a member of the first, with four requalification batches at different stages, and a few
agent inventories waiting to be placed or refused.

The bulk is written with bulk_create (one "created" timeline event per asset) so that
`preau demo` stays fast; the batches go through preau.fleet.services like real work.
Deterministic for a given seed: tags SEM-00001… in the same order with the same statuses.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from preau.accounts.models import User
from preau.core import demo
from preau.territory.models import SchoolClass, SchoolKind

from . import services
from .lifecycle import Status
from .models import (
    AgentSubmission,
    Asset,
    AssetEvent,
    BatchItem,
    Category,
    DeviceModel,
    ErasureCertificate,
    NetworkInterface,
    Origin,
    RecyclingRecord,
    Site,
    Slot,
)

C = Category
WORKSHOPS = [("Envie Loire", "12 rue de la Richelandière, Saint-Étienne-la-Grande"),
             ("Atelier Emmaüs Connect du Pilat", "3 chemin des Aciéries, Genilac-en-Jarez")]
DEPOT = ("Dépôt de l'agglomération", "ZA du Clapier, 8 rue des Forges, Saint-Étienne-la-Grande")
RECYCLERS = ["Ecologic", "ecosystem", "Envie 2E Loire"]
OPERATORS = ["Samir Haddad", "Lucie Fournier", "Noé Vidal"]


@dataclass(frozen=True)
class Spec:
    """One catalogue line: category, maker, model, year, CPU, 64-bit, RAM (MB), disk (GB), PXE, price, weight."""

    category: str
    maker: str
    name: str
    year: int
    cpu: str = ""
    cpu_64bit: bool | None = None
    ram_mb: int | None = None
    disk_gb: int | None = None
    netboot: bool | None = None
    price: int = 0
    weight: float = 1.0


CATALOGUE = [
    # Teachers' PCs, 2008-2020: the older ones 32-bit or short of memory, some without network boot.
    Spec(C.DESKTOP, "HP", "Compaq dc7800", 2008, "Intel Pentium 4 (32 bits)", False, 1024, 80, True, 620, 3),
    Spec(C.DESKTOP, "Dell", "OptiPlex 755", 2008, "Intel Core 2 Duo E6550", True, 2048, 160, True, 690, 4),
    Spec(C.DESKTOP, "Lenovo", "ThinkCentre A57", 2008, "Intel Celeron 440 (32 bits)", False, 1024, 160, False, 540, 2),
    Spec(C.DESKTOP, "HP", "Compaq dx2400", 2009, "Intel Pentium E2200", True, 1024, 160, None, 560, 2),
    Spec(C.DESKTOP, "Lenovo", "ThinkCentre M58", 2009, "Intel Core 2 Duo E7500", True, 2048, 250, True, 650, 3),
    Spec(C.DESKTOP, "Dell", "OptiPlex 380", 2010, "Intel Pentium E5400", True, 2048, 250, True, 580, 5),
    Spec(C.DESKTOP, "HP", "Compaq 6000 Pro", 2010, "Intel Core 2 Duo E7500", True, 2048, 250, True, 610, 4),
    Spec(C.DESKTOP, "Dell", "OptiPlex 390", 2011, "Intel Core i3-2100", True, 4096, 250, True, 640, 6),
    Spec(C.DESKTOP, "Lenovo", "ThinkCentre M71e", 2011, "Intel Pentium G620", True, 2048, 320, True, 560, 4),
    Spec(C.DESKTOP, "HP", "Compaq Elite 8300", 2012, "Intel Core i5-3470", True, 4096, 500, True, 780, 3),
    Spec(C.DESKTOP, "Dell", "OptiPlex 3010", 2012, "Intel Core i3-3220", True, 4096, 500, True, 620, 6),
    Spec(C.DESKTOP, "HP", "ProDesk 400 G1", 2014, "Intel Core i3-4130", True, 4096, 500, True, 600, 5),
    Spec(C.DESKTOP, "Dell", "OptiPlex 3020", 2014, "Intel Core i3-4150", True, 4096, 500, True, 610, 6),
    Spec(C.DESKTOP, "Lenovo", "ThinkCentre M73", 2014, "Intel Pentium G3220", True, 4096, 500, True, 570, 4),
    Spec(C.DESKTOP, "HP", "ProDesk 600 G2", 2016, "Intel Core i5-6500", True, 8192, 500, True, 720, 3),
    Spec(C.DESKTOP, "Dell", "OptiPlex 3050 Micro", 2017, "Intel Core i3-7100T", True, 8192, 256, True, 650, 3),
    Spec(C.DESKTOP, "Lenovo", "ThinkCentre M710q Tiny", 2017, "Intel Core i3-7100T", True, 4096, 500, True, 620, 2),
    Spec(C.DESKTOP, "Lenovo", "ThinkCentre M720q Tiny", 2019, "Intel Core i3-8100T", True, 8192, 256, True, 640, 2),
    Spec(C.DESKTOP, "HP", "ProDesk 400 G6 SFF", 2020, "Intel Core i3-9100", True, 8192, 256, True, 660, 1),
    Spec(C.LAPTOP, "Dell", "Latitude E5440", 2014, "Intel Core i3-4030U", True, 4096, 500, True, 720, 2),
    Spec(C.LAPTOP, "HP", "ProBook 450 G3", 2016, "Intel Core i3-6100U", True, 4096, 500, True, 690, 2),
    Spec(C.LAPTOP, "Lenovo", "ThinkPad L480", 2018, "Intel Core i3-8130U", True, 8192, 256, True, 760, 1),
    # Thin clients bought for the plan.
    Spec(C.THIN_CLIENT, "Dell", "Wyse 5070", 2019, "Intel Celeron J4105", True, 4096, 16, True, 390, 4),
    Spec(C.THIN_CLIENT, "HP", "t530", 2018, "AMD GX-215JJ", True, 4096, 16, True, 340, 3),
    Spec(C.THIN_CLIENT, "Fujitsu", "Futro S740", 2020, "Intel Celeron J4105", True, 4096, 32, True, 360, 3),
    # Interactive projectors and screens.
    Spec(C.PROJECTOR, "Epson", "EB-595Wi", 2015, price=1390, weight=4),
    Spec(C.PROJECTOR, "Epson", "EB-680Wi", 2017, price=1290, weight=5),
    Spec(C.PROJECTOR, "Epson", "EB-725Wi", 2020, price=1490, weight=3),
    Spec(C.PROJECTOR, "BenQ", "MW855UST+", 2014, price=1190, weight=3),
    Spec(C.PROJECTOR, "BenQ", "MH856UST", 2016, price=1350, weight=2),
    Spec(C.SCREEN, "Speechi", "SPE-65-UHD", 2019, price=2490, weight=2),
    Spec(C.SCREEN, "Speechi", "SPE-75-UHD", 2021, price=3290, weight=1),
    Spec(C.SCREEN, "Promethean", "ActivPanel Cobalt 65", 2020, price=2890, weight=2),
    Spec(C.SCREEN, "Promethean", "ActivPanel Nickel 75", 2022, price=3190, weight=1),
    # Tablets and their charging carts.
    Spec(C.TABLET, "Apple", "iPad 6e génération", 2018, "Apple A10 Fusion", True, 2048, 32, price=330, weight=3),
    Spec(C.TABLET, "Apple", "iPad 9e génération", 2021, "Apple A13 Bionic", True, 3072, 64, price=390, weight=3),
    Spec(C.TABLET, "Samsung", "Galaxy Tab A 10.1", 2019, "Exynos 7904", True, 2048, 32, price=220, weight=2),
    Spec(C.TABLET, "Samsung", "Galaxy Tab A8", 2022, "Unisoc T618", True, 3072, 32, price=230, weight=2),
    Spec(C.TABLET_CART, "Bretford", "Cube Cart 16 places", 2018, price=1150, weight=2),
    Spec(C.TABLET_CART, "LocknCharge", "Carrier 15 (valise)", 2020, price=690, weight=2),
    # School network and shared devices.
    Spec(C.NAS, "Synology", "DS218j", 2017, "Marvell Armada 385", False, 512, 4000, price=420, weight=2),
    Spec(C.NAS, "Synology", "DS220+", 2020, "Intel Celeron J4025", True, 2048, 8000, price=690, weight=3),
    Spec(C.SWITCH, "HPE Aruba", "1930 24G", 2020, price=310, weight=3),
    Spec(C.SWITCH, "Netgear", "GS724T", 2013, price=260, weight=2),
    Spec(C.ACCESS_POINT, "Ubiquiti", "UniFi U6 Lite", 2021, price=120, weight=3),
    Spec(C.ACCESS_POINT, "TP-Link", "Omada EAP225", 2018, price=85, weight=2),
    Spec(C.PRINTER, "HP", "LaserJet Pro M404dn", 2019, price=290, weight=3),
    Spec(C.PRINTER, "Brother", "HL-L2350DW", 2018, price=150, weight=2),
    Spec(C.PRINTER, "Epson", "WorkForce WF-4830", 2020, price=190, weight=1),
    Spec(C.ROBOT_KIT, "Mobsya", "Thymio II (mallette de 6)", 2017, price=980, weight=2),
    Spec(C.ROBOT_KIT, "TTS", "Blue-Bot (mallette de 6)", 2016, price=690, weight=3),
]
# Network cards' maker prefixes (OUI), per maker: deterministic MAC addresses.
# Lower case, as preau.fleet.agent.identity.normalize_mac stores them.
OUI = {"Dell": "f8:b1:56", "HP": "3c:d9:2b", "Lenovo": "6c:0b:84", "Fujitsu": "4c:52:62", "Synology": "00:11:32",
       "Apple": "f0:18:98", "Samsung": "8c:71:f8"}
FAILURES = ["ne démarre plus", "écran noir au démarrage", "lampe hors d'usage", "alimentation grillée",
            "disque dur en panne", "tactile inopérant", "carte réseau défaillante", "surchauffe, s'éteint"]


class _Fleet:
    """What the builder accumulates before writing it in bulk."""

    def __init__(self, rng, depot: Site):
        self.rng = rng
        self.depot = depot
        self.assets: list[Asset] = []
        self.slots: list[tuple[Slot, int | None]] = []  # slot, index of its asset in self.assets
        self.failures: dict[int, str] = {}  # asset index -> what broke
        self.serials: set[str] = set()
        self.today = timezone.localdate()

    def serial(self, maker: str) -> str:
        alphabet = "0123456789BCDFGHJKLMNPQRSTVWXZ"
        while True:
            body = "".join(self.rng.choice(alphabet) for _ in range(7 if maker == "Dell" else 9))
            serial = {"Dell": body, "HP": "CZC" + body[:7], "Lenovo": "PC0" + body[:6]}.get(maker, body)
            if serial not in self.serials:
                self.serials.add(serial)
                return serial

    def asset(self, model: DeviceModel, spec: Spec, status: str, *, school=None, school_class=None,
              site=None, bought: int | None = None, hostname: str = "") -> int:
        rng = self.rng
        year = bought or min(spec.year + rng.choice((0, 0, 1, 1, 2)), self.today.year)
        purchased = datetime.date(year, rng.choice((3, 6, 7, 8, 9, 10, 11)), rng.randint(1, 28))
        if purchased > self.today:
            purchased = self.today - datetime.timedelta(days=rng.randint(30, 300))
        computer = spec.category in (C.DESKTOP, C.LAPTOP, C.THIN_CLIENT)
        a = Asset(
            tag=f"SEM-{len(self.assets) + 1:05d}", serial=self.serial(spec.maker), model=model,
            category=spec.category, status=status, origin=Origin.PURCHASED,
            school=school_class.school if school_class is not None else school, school_class=school_class,
            site=site, purchased_on=purchased,
            warranty_until=purchased.replace(year=purchased.year + (5 if spec.category in (C.SCREEN, C.THIN_CLIENT)
                                                                    else 3), day=min(purchased.day, 28)),
            cost=Decimal(spec.price + rng.randint(-40, 40)) if spec.price else None,
        )
        if computer and status in (Status.DEPLOYED, Status.FAILED) and rng.random() < 0.7:
            a.hostname = hostname
            a.system_uuid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            a.os = ("Debian 12 (client léger Préau)" if spec.category == C.THIN_CLIENT else
                    rng.choice(["Windows 10 Professionnel", "Windows 10 Professionnel", "Windows 7 Professionnel",
                                "Ubuntu 22.04 LTS", "PrimTux 7"]))
            a.last_inventory_at = timezone.now() - datetime.timedelta(hours=rng.randint(2, 24 * 90))
        self.assets.append(a)
        return len(self.assets) - 1

    def slot(self, label: str, category: str, school, school_class=None, asset: int | None = None) -> None:
        self.slots.append((Slot(school=school, school_class=school_class, category=category, label=label), asset))


def _catalogue() -> dict[str, list[tuple[DeviceModel, Spec]]]:
    models = DeviceModel.objects.bulk_create(DeviceModel(
        category=s.category, maker=s.maker, name=s.name, cpu=s.cpu, cpu_64bit=s.cpu_64bit, ram_mb=s.ram_mb,
        disk_gb=s.disk_gb, netboot=s.netboot, released_year=s.year) for s in CATALOGUE)
    by_category: dict[str, list[tuple[DeviceModel, Spec]]] = {}
    for model, spec in zip(models, CATALOGUE, strict=True):
        by_category.setdefault(spec.category, []).append((model, spec))
    return by_category


def _pick(rng, choices: list[tuple[DeviceModel, Spec]], before: int | None = None):
    if before is not None:
        choices = [c for c in choices if c[1].year <= before] or choices
    return rng.choices(choices, [c[1].weight for c in choices])[0]


def _fill(f: _Fleet, rng, choices, label, category, school, school_class=None, *, missing=0.05, failed=0.03,
          hostname="", before=None) -> None:
    """A slot, filled (deployed, sometimes failed) or left empty (device missing or not bought yet)."""
    roll = rng.random()
    if roll < missing:
        f.slot(label, category, school, school_class)
        return
    model, spec = _pick(rng, choices, before)
    status = Status.FAILED if roll < missing + failed else Status.DEPLOYED
    index = f.asset(model, spec, status, school=school, school_class=school_class, hostname=hostname)
    if status == Status.FAILED:
        f.failures[index] = rng.choice(FAILURES)
    f.slot(label, category, school, school_class, index)


def _schools(f: _Fleet, rng, catalogue, schools) -> None:
    classes: dict[int, list[SchoolClass]] = {}
    for k in SchoolClass.objects.order_by("school_id", "name", "pk"):
        classes.setdefault(k.school_id, []).append(k)
    for school in schools:
        # How far the school is in the plan: share of teachers' seats already thin clients, of screens.
        progress = rng.betavariate(2, 2)
        screens = rng.random() * 0.4
        maternelle = school.kind == SchoolKind.MATERNELLE
        short = school.uai[-4:]
        for k in classes.get(school.pk, []):
            number = k.name.rsplit(" ", 1)[-1]
            host = f"E{short}-C{number.zfill(2)}"
            if rng.random() < progress:
                _fill(f, rng, catalogue[C.THIN_CLIENT], f"Client léger de l'enseignant ({k.name})", C.THIN_CLIENT,
                      school, k, missing=0.03, failed=0.02, hostname=host + "-TC")
            elif rng.random() < 0.03:
                _fill(f, rng, catalogue[C.LAPTOP], f"PC portable de l'enseignant ({k.name})", C.LAPTOP,
                      school, k, missing=0.04, failed=0.04, hostname=host + "-PP")
            else:
                _fill(f, rng, catalogue[C.DESKTOP], f"PC de l'enseignant ({k.name})", C.DESKTOP, school, k,
                      missing=0.04, failed=0.04, hostname=host + "-PC")
            if maternelle and rng.random() < 0.35:
                continue  # many maternelle classes have no projector yet (and no slot for one)
            if rng.random() < screens:
                _fill(f, rng, catalogue[C.SCREEN], f"Écran interactif ({k.name})", C.SCREEN, school, k,
                      missing=0.06, failed=0.02)
            else:
                _fill(f, rng, catalogue[C.PROJECTOR], f"Vidéoprojecteur interactif ({k.name})", C.PROJECTOR,
                      school, k, missing=0.06, failed=0.04)
        _fill(f, rng, catalogue[C.NAS], "NAS de l'école", C.NAS, school, missing=0.08, failed=0.02)
        _fill(f, rng, catalogue[C.SWITCH], "Commutateur réseau", C.SWITCH, school, missing=0.03, failed=0.01)
        if rng.random() < 0.5:
            _fill(f, rng, catalogue[C.ACCESS_POINT], "Borne Wi-Fi", C.ACCESS_POINT, school, missing=0.05,
                  failed=0.02)
        if not maternelle and rng.random() < 0.2:
            _fill(f, rng, catalogue[C.TABLET_CART], "Chariot de tablettes", C.TABLET_CART, school, missing=0.1,
                  failed=0.0)
            model, spec = _pick(rng, catalogue[C.TABLET])
            year = spec.year + rng.choice((0, 1))
            for _ in range(rng.choice((6, 8, 8, 10))):  # the cart's tablets: at the school, no slot each
                status = Status.FAILED if rng.random() < 0.03 else Status.DEPLOYED
                i = f.asset(model, spec, status, school=school, bought=year)
                if status == Status.FAILED:
                    f.failures[i] = "écran fissuré"
        if rng.random() < 0.45:
            model, spec = _pick(rng, catalogue[C.PRINTER])
            f.asset(model, spec, Status.DEPLOYED, school=school)
        if rng.random() < 0.18:
            model, spec = _pick(rng, catalogue[C.ROBOT_KIT])
            f.asset(model, spec, Status.DEPLOYED, school=school)


def _depot(f: _Fleet, rng, catalogue) -> None:
    """Stock for replacements, devices in repair, retired ones waiting for the recycler, lost ones."""
    plan = [(C.THIN_CLIENT, Status.IN_STOCK, 140, 2024), (C.PROJECTOR, Status.IN_STOCK, 18, None),
            (C.SCREEN, Status.IN_STOCK, 8, None), (C.NAS, Status.IN_STOCK, 6, None),
            (C.SWITCH, Status.IN_STOCK, 10, None), (C.ACCESS_POINT, Status.IN_STOCK, 12, None),
            (C.TABLET, Status.IN_STOCK, 24, None), (C.DESKTOP, Status.IN_STOCK, 25, None),
            (C.PROJECTOR, Status.IN_REPAIR, 14, None), (C.SCREEN, Status.IN_REPAIR, 3, None),
            (C.DESKTOP, Status.IN_REPAIR, 6, None), (C.NAS, Status.IN_REPAIR, 2, None),
            (C.DESKTOP, Status.RETIRED, 60, 2011), (C.PROJECTOR, Status.RETIRED, 15, 2015),
            (C.DESKTOP, Status.RECYCLED, 35, 2010), (C.PROJECTOR, Status.RECYCLED, 6, 2014),
            (C.TABLET, Status.LOST, 4, None), (C.LAPTOP, Status.LOST, 2, None)]
    for category, status, count, before in plan:
        for _ in range(count):
            model, spec = _pick(rng, catalogue[category], before)
            bought = rng.randint(max(spec.year, f.today.year - 2), f.today.year) if category == C.THIN_CLIENT else None
            i = f.asset(model, spec, status, site=f.depot, bought=bought)
            if status in (Status.IN_REPAIR, Status.RETIRED):
                f.failures[i] = rng.choice(FAILURES)


def _write(f: _Fleet, rng, admin) -> dict:
    assets = Asset.objects.bulk_create(f.assets, batch_size=2000)
    now = timezone.now()
    events = [AssetEvent(asset=a, user=admin, kind=AssetEvent.Kind.CREATED, to_status=a.status,
                         reason="inventaire initial (démonstration)") for a in assets]
    for i, what in f.failures.items():
        a = assets[i]
        previous = Status.DEPLOYED if a.status in (Status.FAILED, Status.IN_REPAIR, Status.RETIRED) else Status.IN_STOCK
        events.append(AssetEvent(asset=a, user=admin, kind=AssetEvent.Kind.STATUS, from_status=previous,
                                 to_status=a.status, reason=what, ticket=f"INC-{rng.randint(10000, 99999)}"))
    AssetEvent.objects.bulk_create(events, batch_size=2000)
    slots = []
    for slot, index in f.slots:
        slot.asset = assets[index] if index is not None else None
        slots.append(slot)
    Slot.objects.bulk_create(slots, batch_size=2000)
    interfaces = []
    for n, a in enumerate(assets):
        if a.category in (C.DESKTOP, C.LAPTOP, C.THIN_CLIENT, C.NAS) and a.status not in (Status.RECYCLED,):
            maker = a.model.maker
            interfaces.append(NetworkInterface(asset=a, name="eth0" if a.category != C.LAPTOP else "enp0s25",
                                               mac=f"{OUI.get(maker, '00:1e:c9')}:{n >> 16 & 255:02x}:"
                                                   f"{n >> 8 & 255:02x}:{n & 255:02x}"))
    NetworkInterface.objects.bulk_create(interfaces, batch_size=2000)
    RecyclingRecord.objects.bulk_create(
        RecyclingRecord(asset=a, weight_kg=Decimal("7.5") if a.category == C.DESKTOP else Decimal("4.2"),
                        recycler=rng.choice(RECYCLERS), certificate=f"BSD-{rng.randint(100000, 999999)}",
                        recycled_on=now.date() - datetime.timedelta(days=rng.randint(20, 700)))
        for a in assets if a.status == Status.RECYCLED)
    return {"assets": len(assets), "slots": len(slots), "empty_slots": sum(1 for s in slots if s.asset is None)}


def _erase(user, item: BatchItem, rng, *, verification=ErasureCertificate.Verification.PASSED) -> None:
    asset = item.asset
    services.do_record_erasure(
        user, item, disk_serial=f"WD-WCC{rng.randint(1000000, 9999999)}", disk_model="Western Digital WD5000AAKX",
        disk_size_gb=asset.model.disk_gb, method=ErasureCertificate.Method.PURGE, tool="nwipe 0.34",
        pattern="PRNG + vérification", passes=1, verification=verification, operator=rng.choice(OPERATORS),
        performed_on=timezone.localdate() - datetime.timedelta(days=rng.randint(1, 5)))


def _batches(rng, workshops: list[Site], admin, atelier) -> dict:
    """Four batches of old teachers' PCs still in their classes, one per stage, through the services."""
    candidates = list(Asset.objects.filter(category=C.DESKTOP, status=Status.DEPLOYED, slot__isnull=False)
                      .select_related("model").order_by("tag"))
    rng.shuffle(candidates)
    recent = [a for a in candidates if a.model.released_year >= 2014]
    old = [a for a in candidates if a.model.released_year < 2012]
    taken: set[int] = set()

    def pick(n_recent: int, n_old: int) -> list[Asset]:
        out = [a for a in recent if a.pk not in taken][:n_recent] + [a for a in old if a.pk not in taken][:n_old]
        taken.update(a.pk for a in out)
        return out

    today = timezone.localdate()
    closed = services.do_create_batch(admin, workshop=workshops[0], assets=pick(5, 2),
                                      notes="Premier lot de l'année : écoles de la ville-centre.")
    services.do_pickup_batch(admin, closed, on=today - datetime.timedelta(days=40))
    services.do_receive_batch(atelier, closed, on=today - datetime.timedelta(days=38))
    for item in closed.items.select_related("asset__model").order_by("asset__tag"):
        _erase(atelier, item, rng)
        if item.eligibility == BatchItem.Eligibility.ELIGIBLE:
            services.do_convert(atelier, item, notes="image client léger Préau installée")
        else:
            services.do_reject(atelier, item, weight_kg=Decimal("7.50"), recycler=rng.choice(RECYCLERS),
                               certificate=f"BSD-{rng.randint(100000, 999999)}")
    services.do_return_batch(atelier, closed, on=today - datetime.timedelta(days=20))
    services.do_deploy_batch(admin, closed)

    received = services.do_create_batch(admin, workshop=workshops[0], assets=pick(6, 3),
                                        notes="Lot des écoles de la couronne est.")
    services.do_pickup_batch(admin, received, on=today - datetime.timedelta(days=12))
    services.do_receive_batch(atelier, received, on=today - datetime.timedelta(days=10))
    items = list(received.items.select_related("asset__model").order_by("asset__tag"))
    for n, item in enumerate(items[:5]):
        _erase(atelier, item, rng, verification=ErasureCertificate.Verification.FAILED if n == 3
               else ErasureCertificate.Verification.PASSED)
    first = items[0]
    if first.eligibility == BatchItem.Eligibility.ELIGIBLE:
        services.do_convert(atelier, first, notes="image client léger Préau installée")

    picked = services.do_create_batch(admin, workshop=workshops[1], assets=pick(5, 2),
                                      notes="Enlèvement groupé, écoles rurales du Pilat.")
    services.do_pickup_batch(admin, picked, on=today - datetime.timedelta(days=3))
    services.do_create_batch(admin, workshop=workshops[0], assets=pick(6, 2),
                             notes="À enlever la semaine prochaine.")
    return {"batches": 4, "batch_devices": len(taken)}


def _submissions(rng, schools, known: list[Asset]) -> int:
    """Agent inventories through the real intake: known machines matched and updated, unknown ones waiting
    to be placed, a few refused (unknown TAG, unreadable document)."""
    from .agent import intake as agent_intake
    from .agent.identity import Interface
    from .agent.parse import FUSION_XML, GLPI_JSON, Inventory, ParseError, parse

    n = 0
    for n in range(10):
        school = schools[rng.randrange(len(schools))]
        spec = rng.choice([s for s in CATALOGUE if s.category in (C.DESKTOP, C.LAPTOP)])
        mac = f"{OUI.get(spec.maker, '00:1e:c9')}:f0:{n:02x}:{rng.randrange(256):02x}"
        host = f"E{school.uai[-4:]}-PC{rng.randint(20, 99)}"
        laptop = spec.category == C.LAPTOP
        agent_intake.intake(Inventory(
            format=rng.choice((FUSION_XML, GLPI_JSON)), deviceid=f"{host}-2026-03-0{n % 9 + 1}-08-12-31",
            tag=school.uai, hostname=host, serial=f"CZC{rng.randint(1000000, 9999999)}",
            system_uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)), maker=spec.maker, model=spec.name,
            chassis="Notebook" if laptop else "Desktop", cpu=spec.cpu, cpu_64bit=spec.cpu_64bit,
            ram_mb=spec.ram_mb, disk_gb=spec.disk_gb, os_name="Microsoft Windows 10 Professionnel",
            os_arch="64-bit" if spec.cpu_64bit else "32-bit", interfaces=[Interface("eth0", mac)],
            networks_reported=True, agent="FusionInventory-Agent_v2.6"), remote_addr=f"10.42.{n + 10}.{n + 2}")
    agent_intake.intake(Inventory(format=FUSION_XML, deviceid="poste-salle-info-2026-02-10-10-00-00",
                                  tag="ECOLE-TEST", hostname="poste-salle-info", serial="PC0ZX81K2",
                                  interfaces=[Interface("eth0", "6c:0b:84:aa:10:01")], networks_reported=True),
                        remote_addr="10.42.99.2")
    try:
        parse(b"<?xml version='1.0'?><REQUEST><DEVICEID>portable-direction-2026-02-11-09-30-00</DEVICEID>"
              b"<QUERY>INVENTORY</QUERY><CONTENT><HARDWARE><NAME>portable-dir")
    except ParseError as exc:
        agent_intake.record_rejection(deviceid="portable-direction-2026-02-11-09-30-00", fmt=FUSION_XML,
                                      message=str(exc), remote_addr="10.42.99.3")
    for a in known:
        mac = a.interfaces.values_list("mac", flat=True).first()
        agent_intake.intake(Inventory(
            format=GLPI_JSON, deviceid=f"{a.hostname}-2026-03-01-07-45-00", tag=a.school.uai, hostname=a.hostname,
            serial=a.serial, system_uuid=a.system_uuid, maker=a.model.maker, model=a.model.name,
            chassis="Desktop", cpu=a.model.cpu, cpu_64bit=a.model.cpu_64bit, ram_mb=a.model.ram_mb,
            disk_gb=a.model.disk_gb, os_name="Debian GNU/Linux 12 (bookworm)", os_arch="x86_64",
            interfaces=[Interface("enp1s0", mac)] if mac else [], networks_reported=bool(mac),
            agent="GLPI-Agent_v1.11"), remote_addr="10.42.1.20")
    return AgentSubmission.objects.count()


def build_fleet(rng, context: dict) -> dict:
    admin = User.objects.filter(username="admin").first()
    atelier = User.objects.filter(username="atelier").first()
    schools = context["schools"]
    depot = Site.objects.create(name=DEPOT[0], kind=Site.Kind.DEPOT, address=DEPOT[1])
    workshops = [Site.objects.create(name=name, kind=Site.Kind.WORKSHOP, address=address)
                 for name, address in WORKSHOPS]
    if atelier is not None:
        workshops[0].members.add(atelier)
    catalogue = _catalogue()
    f = _Fleet(rng, depot)
    _schools(f, rng, catalogue, schools)
    _depot(f, rng, catalogue)
    counts = _write(f, rng, admin)
    counts.update(_batches(rng, workshops, admin, atelier or admin))
    known = list(Asset.objects.filter(category=C.THIN_CLIENT, status=Status.DEPLOYED).exclude(hostname="")
                 .select_related("school", "model").order_by("tag")[:15])
    counts["agent_submissions"] = _submissions(rng, schools, known)
    counts.update(models=len(CATALOGUE), sites=1 + len(workshops))
    context.update(depot=depot, workshops=workshops)
    return counts


demo.register(30, "fleet", build_fleet)
