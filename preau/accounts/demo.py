"""Demo accounts, one per role, password "demo" (printed by `make run`)."""

from preau.core import demo

from .models import Role, User

PASSWORD = "demo"


def build_accounts(rng, context: dict) -> dict:
    schools = context["schools"]
    first_school = schools[0]
    made = []

    def user(username, role, first, last, **extra):
        u = User(username=username, role=role, first_name=first, last_name=last,
                 email=f"{username}@demo.preau.local", **extra)
        u.set_password(PASSWORD)
        u.save()
        made.append((username, str(Role(role).label)))
        return u

    user("admin", Role.ADMIN, "Joëlle", "Fayet", is_staff=True)
    user("technicien", Role.TECHNICIAN, "Karim", "Benali")
    mairie = user("mairie", Role.COMMUNE, "Sylvie", "Morel")
    mairie.communes.add(first_school.commune)
    conseiller = user("conseiller", Role.ADVISOR, "Hélène", "Roux")
    conseiller.circonscriptions.add(first_school.circonscription)
    user("directeur", Role.DIRECTOR, "Paul", "Garnier", school=first_school)
    user("enseignant", Role.TEACHER, "Léa", "Martin", school=first_school)
    user("atelier", Role.WORKSHOP, "Marc", "Perrin", organisation="Atelier d'insertion de démonstration")
    user("comite", Role.COMMITTEE, "Bernard", "Laget")
    return {"users": len(made), "accounts": made}


demo.register(20, "accounts", build_accounts)
