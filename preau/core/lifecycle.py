"""Explicit state machines: a set of statuses, the transitions allowed between them, and a refusal in
French that says what is possible instead. The fleet's assets (preau/fleet/lifecycle.py) and the help
requests (preau/helpdesk/lifecycle.py) each declare theirs with `StateMachine`."""

from django.db import models
from django.utils.translation import gettext as _


class TransitionRefused(ValueError):
    """A change of status the lifecycle does not allow; str() is a sentence for the user, in French."""


class StateMachine:
    """`already`: the sentence when the target is the current status (`%(s)s`); `refused`: otherwise
    (`%(a)s` current, `%(b)s` target, `%(p)s` what is possible). Both lazy, translated when raised."""

    def __init__(self, status: type[models.TextChoices], transitions: dict[str, tuple[str, ...]],
                 already, refused):
        self.status, self.transitions, self.already, self.refused = status, transitions, already, refused

    def allowed(self, current: str) -> tuple[str, ...]:
        return self.transitions.get(current, ())

    def label(self, status: str) -> str:
        return str(self.status(status).label) if status in self.status.values else status

    def check(self, current: str, target: str) -> None:
        if target not in self.status.values:
            raise TransitionRefused(_("Statut inconnu : « %(s)s ».") % {"s": target})
        if target in self.allowed(current):
            return
        if target == current:
            raise TransitionRefused(str(self.already) % {"s": self.label(current)})
        possible = (", ".join(_("« %(s)s »") % {"s": self.label(s)} for s in self.allowed(current))
                    or _("aucun (état final)"))
        raise TransitionRefused(str(self.refused) % {"a": self.label(current), "b": self.label(target),
                                                     "p": possible})
