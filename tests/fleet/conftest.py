"""The fleet cast, on top of the territory cast (tests/conftest.py):

    models: PC Dell OptiPlex 3020 (64-bit, 4 GB, PXE, 2014), PC HP dc7800 (32-bit, 1 GB, 2008),
            thin client Préau TC-1, projector Epson EB-680Wi
    sites: the depot, the workshop "Envie Loire" (member: cast.workshop), another workshop
    sa1 "Classe 1": slots "PC de la classe" (desktop, pc1 deployed) and "Vidéoprojecteur" (projector, proj1)
    sa1 "Classe 2": slot "Client léger enseignant" (thin client, tc1 deployed)
    stock: tc_spare (thin client, in stock at the depot), pc_old (HP, deployed in sa1 school, no slot)
    sb1: pc_b (desktop, deployed in sb1 "Classe 1", slot "PC de la classe")
"""

from datetime import date

import pytest

from preau.fleet import services
from preau.fleet.models import Category, DeviceModel, Site, Slot


class Fleet:
    pass


@pytest.fixture
def fleet(cast):
    f = Fleet()
    admin = cast.admin
    f.optiplex = DeviceModel.objects.create(category=Category.DESKTOP, maker="Dell", name="OptiPlex 3020",
                                            cpu="Intel Core i3-4150", cpu_64bit=True, ram_mb=4096, disk_gb=500,
                                            netboot=True, released_year=2014)
    f.dc7800 = DeviceModel.objects.create(category=Category.DESKTOP, maker="HP", name="Compaq dc7800",
                                          cpu="Intel Pentium 4", cpu_64bit=False, ram_mb=1024, disk_gb=80,
                                          netboot=True, released_year=2008)
    f.tc_model = DeviceModel.objects.create(category=Category.THIN_CLIENT, maker="Préau", name="TC-1",
                                            cpu_64bit=True, ram_mb=4096, netboot=True)
    f.epson = DeviceModel.objects.create(category=Category.PROJECTOR, maker="Epson", name="EB-680Wi")
    f.depot = services.default_depot()
    f.envie = Site.objects.create(name="Envie Loire", kind=Site.Kind.WORKSHOP)
    f.envie.members.add(cast.workshop)
    f.other_workshop = Site.objects.create(name="Atelier Ailleurs", kind=Site.Kind.WORKSHOP)
    classes = {k.name: k for k in cast.sa1.classes.all()}
    f.class1, f.class2 = classes["Classe 1"], classes["Classe 2"]
    f.class_b = cast.sb1.classes.get(name="Classe 1")
    f.slot_pc1 = Slot.objects.create(school=cast.sa1, school_class=f.class1, category=Category.DESKTOP,
                                     label="PC de la Classe 1")
    f.slot_proj1 = Slot.objects.create(school=cast.sa1, school_class=f.class1, category=Category.PROJECTOR,
                                       label="Vidéoprojecteur de la Classe 1")
    f.slot_tc2 = Slot.objects.create(school=cast.sa1, school_class=f.class2, category=Category.THIN_CLIENT,
                                     label="Client léger enseignant de la Classe 2")
    f.slot_pc_b = Slot.objects.create(school=cast.sb1, school_class=f.class_b, category=Category.DESKTOP,
                                      label="PC de la Classe 1")

    def deployed(tag, model, slot, **extra):
        asset = services.do_create_asset(admin, model=model, tag=tag, **extra)
        return services.do_deploy(admin, asset, slot=slot)

    f.pc1 = deployed("SEM-00001", f.optiplex, f.slot_pc1, serial="CZC1111", purchased_on=date(2015, 9, 1))
    f.proj1 = deployed("SEM-00002", f.epson, f.slot_proj1, serial="EPS2222", purchased_on=date(2019, 9, 1))
    f.tc1 = deployed("SEM-00003", f.tc_model, f.slot_tc2, serial="TC3333", purchased_on=date(2024, 9, 1))
    f.pc_b = deployed("SEM-00004", f.optiplex, f.slot_pc_b, serial="CZC4444", purchased_on=date(2016, 9, 1))
    f.tc_spare = services.do_create_asset(admin, model=f.tc_model, tag="SEM-00005", serial="TC5555",
                                          purchased_on=date(2025, 9, 1))
    old = services.do_create_asset(admin, model=f.dc7800, tag="SEM-00006", serial="CZC6666",
                                   purchased_on=date(2008, 9, 1))
    f.pc_old = services.do_deploy(admin, old, school=cast.sa1)
    for name in ("pc1", "proj1", "tc1", "pc_b", "tc_spare", "pc_old"):
        getattr(f, name).refresh_from_db()
    return f
