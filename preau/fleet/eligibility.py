"""Whether an asset may be requalified into a thin client, from the configurable EligibilityRule rows."""

from datetime import date

from django.utils.translation import gettext as _

from .models import Asset, EligibilityRule

C = EligibilityRule.Criterion


def active_rules() -> list[EligibilityRule]:
    return list(EligibilityRule.objects.filter(active=True))


def evaluate(asset: Asset, rules: list[EligibilityRule], today: date | None = None) -> tuple[bool, list[str]]:
    """(eligible, reasons): reasons name every rule the asset fails, or every unknown value, in French.

    An unknown value (e.g. RAM never reported) is not a failure but is said, so the workshop checks it."""
    today = today or date.today()
    reasons: list[str] = []
    ok = True
    for rule in rules:
        if rule.criterion == C.CPU_64BIT:
            value = asset.spec("cpu_64bit")
            if value is None:
                reasons.append(_("processeur 64 bits : inconnu, à vérifier"))
            elif not value:
                ok = False
                reasons.append(_("processeur 32 bits"))
        elif rule.criterion == C.NETBOOT:
            value = asset.spec("netboot")
            if value is None:
                reasons.append(_("démarrage réseau : inconnu, à vérifier"))
            elif not value:
                ok = False
                reasons.append(_("pas de démarrage réseau (PXE)"))
        elif rule.criterion == C.MIN_RAM_MB:
            value = asset.spec("ram_mb")
            if value is None:
                reasons.append(_("mémoire : inconnue, à vérifier"))
            elif value < (rule.value or 0):
                ok = False
                reasons.append(_("mémoire %(v)s Mo < %(min)s Mo") % {"v": value, "min": rule.value})
        elif rule.criterion == C.MIN_DISK_GB:
            value = asset.spec("disk_gb")
            if value is None:
                reasons.append(_("disque : inconnu, à vérifier"))
            elif value < (rule.value or 0):
                ok = False
                reasons.append(_("disque %(v)s Go < %(min)s Go") % {"v": value, "min": rule.value})
        elif rule.criterion == C.MAX_AGE_YEARS:
            if asset.purchased_on is None:
                reasons.append(_("âge : date d'achat inconnue"))
            else:
                years = (today - asset.purchased_on).days / 365.25
                if years > (rule.value or 0):
                    ok = False
                    reasons.append(_("âge %(v).0f ans > %(max)s ans") % {"v": years, "max": rule.value})
    return ok, reasons
