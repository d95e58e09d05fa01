"""Official identifiers: UAI (schools), INSEE (communes), SIREN (EPCI). Pure functions, no database."""

import re

UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI_RE = re.compile(r"^\d{7}[A-Z]$")
# Metropolitan departments 01-95 (20 split into 2A/2B), overseas 971-976 and 98x collectivities.
_INSEE_RE = re.compile(r"^(?:0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5]|97[1-8]|98[4-9])\d{2,3}$")
_SIREN_RE = re.compile(r"^\d{9}$")


def uai_check_letter(digits: str) -> str:
    return UAI_LETTERS[int(digits[:7]) % 23]


def uai_error(value: str) -> str | None:
    """None if value is a valid UAI, else a French explanation."""
    if not _UAI_RE.match(value or ""):
        return f"UAI « {value} » invalide : 7 chiffres suivis d'une lettre attendus (ex. 0420146F)"
    expected = uai_check_letter(value)
    if value[7] != expected:
        return f"UAI « {value} » invalide : la lettre de contrôle devrait être {expected}"
    return None


def normalize_uai(value: str) -> str:
    return (value or "").strip().upper()


def insee_error(value: str) -> str | None:
    v = value or ""
    if len(v) != 5 or not _INSEE_RE.match(v):
        return f"code INSEE « {value} » invalide : 5 caractères attendus (ex. 42218, 2A004)"
    return None


def normalize_insee(value: str) -> str:
    v = (value or "").strip().upper()
    if v.isdigit() and len(v) == 4:  # spreadsheets drop the leading zero of 01xxx-09xxx
        v = "0" + v
    return v


def siren_error(value: str) -> str | None:
    if not _SIREN_RE.match(value or ""):
        return f"SIREN « {value} » invalide : 9 chiffres attendus"
    return None
