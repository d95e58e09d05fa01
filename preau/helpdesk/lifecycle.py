"""A help request's lifecycle as an explicit state machine (the same shape as the fleet's).

Every change of status goes through `check(current, target)`; anything not in TRANSITIONS is refused
with a French sentence listing what is possible instead.
"""

from django.db import models
from django.utils.translation import gettext_lazy

from preau.core import lifecycle as core_lifecycle
from preau.core.lifecycle import StateMachine


class Status(models.TextChoices):
    NEW = "new", gettext_lazy("nouvelle")
    ASSIGNED = "assigned", gettext_lazy("prise en charge")
    IN_PROGRESS = "in_progress", gettext_lazy("en cours")
    WAITING_SCHOOL = "waiting_school", gettext_lazy("en attente de l'école")
    WAITING_PART = "waiting_part", gettext_lazy("en attente de pièce / remplacement")
    RESOLVED = "resolved", gettext_lazy("résolue")
    CLOSED = "closed", gettext_lazy("close")
    REOPENED = "reopened", gettext_lazy("rouverte")


S = Status
_WORKING = (S.ASSIGNED, S.IN_PROGRESS, S.WAITING_SCHOOL, S.WAITING_PART, S.RESOLVED)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    S.NEW: (S.ASSIGNED, S.IN_PROGRESS, S.WAITING_SCHOOL, S.RESOLVED, S.CLOSED),
    S.ASSIGNED: (S.NEW, S.IN_PROGRESS, S.WAITING_SCHOOL, S.WAITING_PART, S.RESOLVED),
    S.IN_PROGRESS: (S.ASSIGNED, S.WAITING_SCHOOL, S.WAITING_PART, S.RESOLVED),
    S.WAITING_SCHOOL: (S.IN_PROGRESS, S.WAITING_PART, S.RESOLVED, S.CLOSED),
    S.WAITING_PART: (S.IN_PROGRESS, S.WAITING_SCHOOL, S.RESOLVED),
    S.RESOLVED: (S.CLOSED, S.REOPENED),
    S.CLOSED: (S.REOPENED,),
    S.REOPENED: _WORKING,
}
# Open requests: in a queue, counted against their deadlines.
OPEN = (S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING_SCHOOL, S.WAITING_PART, S.REOPENED)
# The clock of the resolution deadline stops while the school has to answer.
PAUSED = (S.WAITING_SCHOOL,)
# Statuses meaning someone has taken charge (the take-charge deadline is met).
TAKEN = (S.ASSIGNED, S.IN_PROGRESS, S.WAITING_SCHOOL, S.WAITING_PART, S.RESOLVED)
DONE = (S.RESOLVED, S.CLOSED)


MACHINE = StateMachine(
    Status, TRANSITIONS, already=gettext_lazy("La demande est déjà « %(s)s »."),
    refused=gettext_lazy("Transition refusée : une demande « %(a)s » ne peut pas passer à « %(b)s ». Possibles : %(p)s."))
TransitionRefused = core_lifecycle.TransitionRefused
allowed, label, check = MACHINE.allowed, MACHINE.label, MACHINE.check
