"""An asset's lifecycle as an explicit state machine: the statuses and the transitions allowed between them.

Every change of status goes through `check(current, target)`; anything not in
TRANSITIONS is refused with a message that says what is possible instead.
"""

from django.db import models
from django.utils.translation import gettext_lazy

from preau.core import lifecycle as core_lifecycle
from preau.core.lifecycle import StateMachine


class Status(models.TextChoices):
    IN_STOCK = "in_stock", gettext_lazy("en stock")
    DEPLOYED = "deployed", gettext_lazy("déployé")
    FAILED = "failed", gettext_lazy("en panne")
    IN_REQUALIFICATION = "in_requalification", gettext_lazy("en requalification")
    REQUALIFIED = "requalified", gettext_lazy("requalifié")
    IN_REPAIR = "in_repair", gettext_lazy("en réparation")
    RETIRED = "retired", gettext_lazy("réformé")
    RECYCLED = "recycled", gettext_lazy("recyclé (DEEE)")
    LOST = "lost", gettext_lazy("perdu / volé")


S = Status
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.IN_STOCK: (S.DEPLOYED, S.IN_REQUALIFICATION, S.IN_REPAIR, S.RETIRED, S.LOST),
    S.DEPLOYED: (S.FAILED, S.IN_STOCK, S.IN_REQUALIFICATION, S.RETIRED, S.LOST),
    S.FAILED: (S.IN_REPAIR, S.IN_REQUALIFICATION, S.RETIRED, S.RECYCLED, S.LOST),
    S.IN_REQUALIFICATION: (S.REQUALIFIED, S.RECYCLED, S.IN_STOCK, S.LOST),
    S.REQUALIFIED: (S.DEPLOYED, S.IN_STOCK, S.FAILED, S.LOST),
    S.IN_REPAIR: (S.IN_STOCK, S.DEPLOYED, S.RETIRED, S.RECYCLED, S.LOST),
    S.RETIRED: (S.RECYCLED, S.IN_STOCK),
    S.RECYCLED: (),
    S.LOST: (S.IN_STOCK,),
}
# Statuses in which an asset occupies its slot (a class or school place).
IN_PLACE = (S.DEPLOYED, S.FAILED)
# Statuses from which an asset can be deployed or used as a replacement.
AVAILABLE = (S.IN_STOCK, S.REQUALIFIED)
# Statuses that are gone for good (or for now) from the fleet.
GONE = (S.RETIRED, S.RECYCLED, S.LOST)


MACHINE = StateMachine(
    Status, TRANSITIONS, already=gettext_lazy("L'appareil est déjà « %(s)s »."),
    refused=gettext_lazy("Transition refusée : un appareil « %(a)s » ne peut pas passer à « %(b)s ». Possibles : %(p)s."))
TransitionRefused = core_lifecycle.TransitionRefused
allowed, label, check = MACHINE.allowed, MACHINE.label, MACHINE.check
