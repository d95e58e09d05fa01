"""The demo assistance, built after the fleet (30) and the contents (40), at order 50: twelve knowledge-base
articles in French, and a year of plausible help requests for the demo territory.

- Seasonality: requests are filed on school days only (no week-ends, public or school holidays, via the
  WorkCalendar), many more in September and after each holiday, fewer in June.
- Mixed categories and parties (equipment and network for the agglomeration, buildings for the communes,
  training for the circonscriptions), priorities from the categories, deadlines from the policies counted in
  working hours; most are taken and resolved within their deadlines, some not (breaches), recent ones are
  still open in every status; comments (public and internal), a few merged duplicates, reopened requests,
  satisfaction marks after closing.
- The first demo school (the one of "directeur" and "enseignant", in the commune of "mairie" and the
  circonscription of "conseiller") gets its share plus a few requests through the real services, two of them
  solved by replacing the thin client via the fleet, so every demo user's queue and pages have content.

The mass is written with bulk_create (tickets, events, comments) so `preau demo` stays a few seconds; the
demo sends no mail. Deterministic for a given seed (dates are relative to the day it runs).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from preau.accounts.models import User
from preau.core import demo

from . import kb, services, snapshots
from .calendar import WorkCalendar
from .lifecycle import Status
from .models import Article, Category, Comment, Domain, Party, Ticket, TicketEvent

ARTICLES = [
    ("Le vidéoprojecteur n'affiche rien : vérifier la source", ["projector"],
     "Dans 8 cas sur 10, le vidéoprojecteur regarde simplement la mauvaise entrée.",
     "Vérifiez que le vidéoprojecteur est allumé : le voyant doit être bleu ou vert, pas orange.\n\n"
     "Sur la télécommande, appuyez sur « Source » (ou « Input ») et choisissez HDMI 1 pour le poste de la classe, "
     "HDMI 2 pour le câble de la table.\n\nSi l'image n'apparaît toujours pas, débranchez puis rebranchez le câble "
     "HDMI côté poste, attendez 10 secondes.\n\nToujours rien ? Faites une demande en précisant la couleur du voyant."),
    ("L'écran interactif ne réagit plus au stylet", ["projector"],
     "Recalibrer l'écran ou changer la pile du stylet.",
     "Vérifiez le câble USB entre l'écran et le poste : c'est lui qui transmet le toucher.\n\n"
     "Lancez « Calibrer l'écran » depuis le menu Démarrer et touchez les cibles une à une.\n\n"
     "Pour un stylet actif, changez la pile (AAA) ou rechargez-le 15 minutes."),
    ("Redémarrer le client léger de la classe", ["thin-client"],
     "Un redémarrage propre règle la plupart des blocages.",
     "Enregistrez votre travail si vous le pouvez.\n\nMaintenez le bouton d'alimentation 5 secondes jusqu'à "
     "l'extinction, attendez 10 secondes, puis rallumez.\n\nAu démarrage, l'écran « Préau » s'affiche environ "
     "30 secondes : c'est normal, le poste charge son système par le réseau.\n\nSi l'écran reste noir ou affiche "
     "« PXE-E53 », vérifiez que le câble réseau est bien branché, puis faites une demande."),
    ("Le client léger affiche « Pas de réseau » au démarrage", ["thin-client", "no-internet"],
     "Le poste ne trouve pas le serveur de l'école : souvent un câble.",
     "Regardez le petit voyant à côté de la prise réseau du poste : éteint, le câble est débranché ou abîmé.\n\n"
     "Essayez la prise murale voisine si la salle en a une.\n\nSi plusieurs postes de l'école sont concernés, "
     "le problème vient du réseau de l'école : faites une demande « Pas d'internet »."),
    ("Les tablettes ne se chargent pas dans la classe mobile", ["tablets-charge"],
     "Minuterie, disjoncteur ou câbles : trois vérifications.",
     "La classe mobile charge souvent à heures fixes (minuterie) : vérifiez le programmateur sur le côté.\n\n"
     "Vérifiez que la prise murale fonctionne (branchez une lampe) et que l'interrupteur du chariot est allumé.\n\n"
     "Une tablette qui ne charge pas seule : essayez un autre câble du chariot. Si le câble est en cause, "
     "signalez-le dans une demande avec le numéro de l'emplacement."),
    ("Le Wi-Fi de l'école ne fonctionne pas", ["wifi", "no-internet"],
     "Savoir si c'est la borne, la tablette ou internet.",
     "Un seul appareil sans Wi-Fi : désactivez puis réactivez le Wi-Fi de l'appareil, puis oubliez et "
     "reconnectez le réseau « ECOLE ».\n\nTous les appareils d'une salle : la borne est peut-être éteinte "
     "(voyant au plafond). Ne la débranchez pas vous-même.\n\nAucun appareil de l'école n'accède à internet, "
     "même câblé : faites une demande « Pas d'internet », urgente si la classe est bloquée."),
    ("L'imprimante n'imprime pas", ["printer"],
     "File d'attente bloquée, papier, ou mauvaise imprimante choisie.",
     "Vérifiez que vous avez choisi la bonne imprimante dans la fenêtre d'impression.\n\nÉteignez l'imprimante "
     "30 secondes : cela vide souvent une file d'attente bloquée.\n\nUn voyant orange clignotant indique du papier "
     "coincé ou un bac vide. Les cartouches sont commandées par l'école, pas par l'agglomération."),
    ("Que contient le NAS de l'école ?", ["contents"],
     "Les ressources pédagogiques disponibles même sans internet.",
     "Le NAS de l'école garde une copie des collections de ressources (cycle 2, cycle 3, images des clients "
     "légers). Ouvrez « Ressources de l'école » sur le bureau du poste.\n\nLes nouvelles versions arrivent "
     "automatiquement par internet, ou par une tournée de l'équipe numérique pour les écoles mal connectées.\n\n"
     "Une ressource manque ou ne s'ouvre pas ? Notez son nom et faites une demande."),
    ("Mot de passe oublié (ENT, messagerie académique)", ["account"],
     "Qui peut réinitialiser quel mot de passe.",
     "Le mot de passe de la messagerie académique se réinitialise en ligne avec votre NUMEN.\n\nPour l'ENT, "
     "le directeur ou la directrice peut réinitialiser le mot de passe des élèves et des collègues depuis "
     "l'administration de l'ENT.\n\nL'équipe numérique ne connaît jamais votre mot de passe et ne vous le "
     "demandera pas."),
    ("Une prise électrique ou l'éclairage ne fonctionne plus", ["electricity"],
     "Le bâtiment est l'affaire de la commune.",
     "Ne touchez pas à un tableau électrique. Signalez la salle et la prise concernées : la demande part "
     "directement aux services techniques de la commune.\n\nSi un disjoncteur a sauté et que la directrice "
     "sait le réarmer, notez-le dans la demande."),
    ("Demander une formation sur le numérique", ["training", "pedagogy"],
     "Les animations et accompagnements de la circonscription.",
     "Les conseillers pédagogiques au numérique proposent des animations (ENT, écran interactif, robots, "
     "ressources du NAS) et des accompagnements en classe.\n\nFaites une demande « J'ai besoin d'une "
     "formation » en précisant l'outil et le niveau de la classe : la circonscription vous répond."),
    ("Déclarer un appareil cassé, perdu ou volé", ["device-broken"],
     "Ce qu'il faut indiquer pour un remplacement rapide.",
     "Indiquez le numéro d'inventaire (étiquette SEM-…) ou scannez son QR code, et ce qui s'est passé.\n\n"
     "Pour un vol, joignez le récépissé de dépôt de plainte.\n\nUn client léger en panne est remplacé "
     "directement par le technicien, sans attendre sa réparation."),
]

# Relative weights of the categories in the mass (plausible shares of a year of requests).
WEIGHTS = {"projector": 18, "thin-client": 14, "tablets-charge": 6, "printer": 9, "device-broken": 6,
           "no-internet": 8, "wifi": 9, "contents": 4, "account": 8, "electricity": 4, "cabling": 3, "room": 2,
           "training": 5, "pedagogy": 2, "other": 2}
SEASON = {9: 2.4, 10: 1.5, 11: 1.2, 12: 0.9, 1: 1.3, 2: 1.0, 3: 1.0, 4: 0.9, 5: 0.8, 6: 0.6, 7: 0.3, 8: 0.3}
PER_SCHOOL_DAY = 0.05  # requests per school and school day, before the season
PUBLIC = ["Bonjour, pouvez-vous passer cette semaine ? La classe en a besoin.", "Merci pour votre retour rapide.",
          "Nous avons essayé de redémarrer, sans succès.", "Le problème revient tous les matins.",
          "Je passe jeudi matin entre 8 h 30 et 10 h.", "C'est réglé, merci !",
          "Pouvez-vous préciser la salle et le numéro de l'appareil ?", "La pièce est commandée, comptez une semaine."]
INTERNAL = ["Câble HDMI à changer, prévoir 5 m.", "Même panne l'an dernier sur ce modèle.",
            "Voir avec le prestataire réseau.", "Lampe en fin de vie (3 800 h)."]
SCHOOL_SIDE = {0, 1, 3, 5}  # indexes of PUBLIC written by the school


@contextlib.contextmanager
def _no_mail():
    """The demo sends no mail: drop the notifications the services schedule for after the commit."""
    connection = transaction.get_connection()
    before = len(connection.run_on_commit)
    try:
        yield
    finally:
        del connection.run_on_commit[before:]


def _articles(admin) -> list[Article]:
    categories = {c.slug: c for c in Category.objects.all()}
    made = []
    for title, slugs, summary, body in ARTICLES:
        made.append(kb.save_article(admin, None, title=title, summary=summary, body=body,
                                    categories=[categories[s] for s in slugs if s in categories], published=True))
    return made


def _school_days(calendar: WorkCalendar, start, end) -> list:
    days, day = [], start
    while day <= end:
        if calendar.is_working_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def _season(day, days_set) -> float:
    factor = SEASON[day.month]
    # The first week after a holiday brings what broke during it.
    if (day - timedelta(days=3)) not in days_set and (day - timedelta(days=1)) not in days_set and \
            (day - timedelta(days=7)) not in days_set:
        factor *= 1.8
    return factor


class _Mass:
    def __init__(self, rng, calendar, now, users, deadlines):
        self.rng, self.calendar, self.now, self.users, self.deadlines = rng, calendar, now, users, deadlines
        self.events: list[TicketEvent] = []
        self.comments: list[tuple[Ticket, Comment]] = []

    def moment(self, day):
        minutes = self.rng.randint(0, int(self.calendar.day_hours * 60) - 1)
        start = datetime.combine(day, self.calendar.opens) + timedelta(minutes=minutes)
        return timezone.make_aware(start)

    def hours(self, limit: float, late_share: float) -> float:
        """Working hours spent: most within `limit`, some beyond."""
        if self.rng.random() < late_share:
            return round(limit * self.rng.uniform(1.05, 3.5), 2)
        return round(limit * self.rng.betavariate(1.6, 3.2), 2)

    def worker(self, ticket):
        party = ticket.party
        if party == Party.AGGLOMERATION:
            return self.users["technicien"]
        if party == Party.COMMUNE and ticket.party_commune_id in self.users["mairie_communes"]:
            return self.users["mairie"]
        if party == Party.CIRCONSCRIPTION and ticket.party_circonscription_id in self.users["conseiller_circs"]:
            return self.users["conseiller"]
        return None

    def ticket(self, school, category, created, requester) -> Ticket:
        rng, cal, now = self.rng, self.calendar, self.now
        party = category.party
        fields = {"party_commune_id": None, "party_circonscription_id": None}
        if party == Party.COMMUNE:
            fields["party_commune_id"] = school.commune_id
        elif party == Party.CIRCONSCRIPTION and school.circonscription_id:
            fields["party_circonscription_id"] = school.circonscription_id
        else:
            party = Party.AGGLOMERATION
        take_limit, resolve_limit = (float(h) for h in self.deadlines[category.pk])
        t = Ticket(school=school, category=category, priority=category.default_priority, title=category.label,
                   description="", requester=requester, status=Status.NEW, party=party, created_at=created,
                   updated_at=created, take_charge_due=cal.add(created, take_limit),
                   resolve_due=cal.add(created, resolve_limit), **fields)
        take_h = self.hours(take_limit, 0.07)
        taken_at = cal.add(created, take_h)
        resolve_h = max(take_h + 0.25, self.hours(resolve_limit, 0.1))
        resolved_at = cal.add(created, resolve_h)
        self.events.append(TicketEvent(ticket=t, at=created, user=requester, kind=TicketEvent.Kind.CREATED))
        worker = self.worker(t)
        if taken_at > now:
            t.take_charge_breached = now > t.take_charge_due
            t.resolve_breached = now > t.resolve_due
            self.escalate(t)
            return t
        t.taken_at, t.take_charge_hours = taken_at, take_h
        t.take_charge_breached = taken_at > t.take_charge_due
        t.assignee = worker
        t.status = Status.ASSIGNED
        self.events.append(TicketEvent(ticket=t, at=taken_at, user=worker, kind=TicketEvent.Kind.STATUS,
                                       from_status=Status.NEW, to_status=Status.ASSIGNED))
        self.comment(t, taken_at, worker, requester)
        if resolved_at > now:
            t.status = rng.choice([Status.ASSIGNED, Status.IN_PROGRESS, Status.IN_PROGRESS, Status.WAITING_SCHOOL,
                                   Status.WAITING_PART])
            if t.status != Status.ASSIGNED:
                self.events.append(TicketEvent(ticket=t, at=taken_at + timedelta(minutes=20), user=worker,
                                               kind=TicketEvent.Kind.STATUS, from_status=Status.ASSIGNED,
                                               to_status=t.status))
            if t.status == Status.WAITING_SCHOOL:
                t.paused_at = taken_at + timedelta(minutes=20)
            else:
                t.resolve_breached = now > t.resolve_due
            t.updated_at = taken_at + timedelta(minutes=20)
            self.escalate(t)
            return t
        t.status, t.resolved_at, t.resolve_hours = Status.RESOLVED, resolved_at, resolve_h
        t.resolve_breached = resolved_at > t.resolve_due
        t.updated_at = resolved_at
        self.events.append(TicketEvent(ticket=t, at=resolved_at, user=worker, kind=TicketEvent.Kind.STATUS,
                                       from_status=Status.ASSIGNED, to_status=Status.RESOLVED))
        if rng.random() < 0.5:
            self.comment(t, resolved_at - timedelta(minutes=5), worker, requester, public_only=True)
        closed_at = resolved_at + timedelta(days=rng.randint(0, 6), hours=rng.randint(1, 20))
        if closed_at < now and rng.random() < 0.8:
            if rng.random() < 0.04:  # it came back
                t.reopen_count = 1
                self.events.append(TicketEvent(ticket=t, at=closed_at, user=requester, kind=TicketEvent.Kind.STATUS,
                                               from_status=Status.RESOLVED, to_status=Status.REOPENED))
                closed_at += timedelta(days=rng.randint(1, 5))
            t.status, t.closed_at, t.updated_at = Status.CLOSED, closed_at, closed_at
            self.events.append(TicketEvent(ticket=t, at=closed_at, user=requester, kind=TicketEvent.Kind.STATUS,
                                           from_status=Status.RESOLVED, to_status=Status.CLOSED))
            if rng.random() < 0.45:
                late = t.resolve_breached or t.take_charge_breached
                t.satisfaction = rng.choices([1, 2, 3, 4, 5],
                                             weights=[6, 10, 18, 30, 36] if late else [1, 2, 8, 32, 57])[0]
        return t

    def escalate(self, t) -> None:
        """An open request past a deadline was escalated by the deadlines watch when it passed."""
        if t.take_charge_breached or t.resolve_breached:
            t.escalated_at = min(d for d, late in ((t.take_charge_due, t.take_charge_breached),
                                                   (t.resolve_due, t.resolve_breached)) if late)
            self.events.append(TicketEvent(ticket=t, at=t.escalated_at, kind=TicketEvent.Kind.ESCALATED))

    def comment(self, ticket, at, worker, requester, public_only=False):
        for _i in range(self.rng.choice([0, 0, 1, 1, 2])):
            at = at + timedelta(minutes=self.rng.randint(5, 600))
            if at > self.now:
                return
            if not public_only and worker is not None and self.rng.random() < 0.2:
                self.comments.append((ticket, Comment(author=worker, body=self.rng.choice(INTERNAL), internal=True,
                                                      created_at=at)))
                continue
            i = self.rng.randrange(len(PUBLIC))
            author = requester if i in SCHOOL_SIDE else worker
            self.comments.append((ticket, Comment(author=author, body=PUBLIC[i], created_at=at)))


def _last_working_moment(calendar: WorkCalendar, now):
    """Now on a school day during its hours, else an hour before the close of the last school day: the demo's
    requests are filed when schools are open, whatever the day the demo runs."""
    local = timezone.localtime(now)
    if calendar.is_working_day(local.date()) and calendar.opens <= local.time() <= calendar.closes:
        return now
    day = local.date() if local.time() > calendar.closes else local.date() - timedelta(days=1)
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, calendar.closes)) - timedelta(hours=1)


class _FiledAt:
    """services, with every action dated a minute after the previous one, from a given moment."""

    def __init__(self, moment):
        self.moment = moment

    def __getattr__(self, name):
        action = getattr(services, name)

        def dated(*args, **kwargs):
            self.moment += timedelta(minutes=1)
            return action(*args, now=self.moment, **kwargs)

        return dated


def _real_flows(rng, users, school, articles, counts, workshops) -> None:
    """A few requests of the first demo school through the real services (history, audit, fleet), filed at the
    last moment schools were open, a minute apart."""
    from preau.fleet.models import Asset

    filed = _FiledAt(_last_working_moment(WorkCalendar.load(), timezone.now()) - timedelta(minutes=40))

    teacher, director, tech = users["enseignant"], users["directeur"], users["technicien"]
    if teacher is None or tech is None:
        return
    by_slug = {c.slug: c for c in Category.objects.all()}
    projector = filed.do_create_ticket(teacher, school=school, category=by_slug["projector"], notify_party=False,
                                          description="L'image est violette depuis ce matin, salle du CE1.")
    filed.do_assign(tech, projector, tech)
    filed.do_comment(tech, projector, "Je passe demain avec un câble neuf.")
    filed.do_create_ticket(director, school=school, category=by_slug["wifi"], notify_party=False,
                              description="Les tablettes du chariot ne voient plus le réseau ECOLE.")
    filed.do_create_ticket(teacher, school=school, category=by_slug["electricity"], notify_party=False,
                              description="La prise sous le tableau ne marche plus, le vidéoprojecteur s'éteint.")
    filed.do_create_ticket(teacher, school=school, category=by_slug["training"], notify_party=False,
                              description="Formation aux robots Blue-Bot pour ma classe de GS.")
    printer = filed.do_create_ticket(teacher, school=school, category=by_slug["printer"], notify_party=False,
                                        description="Bourrage papier permanent.")
    article = next((a for a in articles if by_slug["printer"] in a.categories.all()), None)
    if article is not None:
        filed.do_resolve_with_article(teacher, printer, article)
    counts["through_services"] = 6
    # A device the partner workshop requalified: its failure goes back to the workshop.
    device = (Asset.objects.filter(school=school, status="deployed").exclude(category__in=["thin_client", "desktop"])
              .select_related("model", "site").order_by("tag").first())
    if device is not None and workshops:
        broken = filed.do_create_ticket(director, school=school, category=by_slug["device-broken"], device=device,
                                           notify_party=False, description="Ne s'allume plus depuis la rentrée.")
        filed.do_reassign(tech, broken, Party.WORKSHOP, workshop=workshops[0],
                             note="Appareil requalifié par l'atelier : sous sa garantie.")
        counts["through_services"] += 1
    # Thin clients declared failed and replaced from the request via the fleet.
    failed = list(Asset.objects.filter(school=school, status="deployed", category__in=["thin_client", "desktop"])
                  .select_related("model", "site").order_by("tag")[:2])
    for device in failed:
        spare = Asset.objects.filter(category=device.category, status__in=["in_stock", "requalified"]).order_by(
            "tag").first()
        if spare is None:
            continue
        ticket = filed.do_create_ticket(teacher, school=school, category=by_slug["thin-client"], device=device,
                                           notify_party=False, description="Écran noir au démarrage.")
        filed.do_assign(tech, ticket, tech)
        filed.do_replace_device(tech, ticket, spare)
        filed.do_change_status(tech, ticket, Status.RESOLVED, note="Poste remplacé, tout fonctionne.")
        counts["replaced"] = counts.get("replaced", 0) + 1


def build_helpdesk(rng, context: dict) -> dict:
    schools = context.get("schools") or []
    usernames = ["admin", "technicien", "mairie", "conseiller", "directeur", "enseignant"]
    found = {u.username: u for u in User.objects.filter(username__in=usernames)}
    users = {name: found.get(name) for name in usernames}
    mairie, conseiller = users["mairie"], users["conseiller"]
    users["mairie_communes"] = set(mairie.communes.values_list("pk", flat=True)) if mairie else set()
    users["conseiller_circs"] = set(conseiller.circonscriptions.values_list("pk", flat=True)) if conseiller else set()
    admin = users["admin"] or User.objects.filter(role="admin").first()
    counts: dict = {}
    with _no_mail():
        articles = _articles(admin) if admin else []
    counts["articles"] = len(articles)
    if not schools:
        return counts
    calendar = WorkCalendar.load()
    categories = {c.slug: c for c in Category.objects.filter(active=True)}
    deadlines = {c.pk: services.deadlines_for(c, c.default_priority) for c in categories.values()}
    now = timezone.now()
    today = timezone.localdate()
    days = _school_days(calendar, today - timedelta(days=365), today)
    days_set = set(days)
    slugs = [s for s in WEIGHTS if s in categories]
    weights = [WEIGHTS[s] for s in slugs]
    first = schools[0]
    requesters = [u for u in (users["directeur"], users["enseignant"]) if u is not None]
    mass = _Mass(rng, calendar, now, users, deadlines)
    tickets: list[Ticket] = []
    for day in days:
        n = rng.gauss(len(schools) * PER_SCHOOL_DAY * _season(day, days_set), 2)
        for _i in range(max(0, round(n))):
            school = first if rng.random() < 0.03 else rng.choice(schools)
            created = mass.moment(day)
            if created > now:
                continue
            category = categories[rng.choices(slugs, weights)[0]]
            requester = rng.choice(requesters) if school.pk == first.pk and requesters else None
            tickets.append(mass.ticket(school, category, created, requester))
    Ticket.objects.bulk_create(tickets, batch_size=1000)
    # Merged duplicates: a second request of the same school for the same problem the same day.
    merged = []
    by_key: dict = {}
    for t in tickets:
        key = (t.school_id, t.category_id, t.created_at.date())
        if key in by_key and t.status not in (Status.CLOSED,) and len(merged) < 25:
            t.merged_into_id = by_key[key].pk
            t.status, t.closed_at = Status.CLOSED, t.created_at + timedelta(hours=1)
            t.resolved_at = t.resolved_at or t.closed_at
            merged.append(t)
            mass.events.append(TicketEvent(ticket=t, at=t.closed_at, kind=TicketEvent.Kind.MERGED,
                                           to_status=Status.CLOSED, details={"into": by_key[key].pk}))
        else:
            by_key.setdefault(key, t)
    Ticket.objects.bulk_update(merged, ["merged_into", "status", "closed_at", "resolved_at"], batch_size=500)
    for event in mass.events:
        event.ticket_id = event.ticket.pk
    TicketEvent.objects.bulk_create(mass.events, batch_size=2000)
    for ticket, comment in mass.comments:
        comment.ticket_id = ticket.pk
    Comment.objects.bulk_create([c for _t, c in mass.comments], batch_size=2000)
    # Articles that resolved requests: a share of the simple problems.
    resolvable = [t for t in tickets if t.status in (Status.RESOLVED, Status.CLOSED) and not t.merged_into_id
                  and t.category.domain in (Domain.EQUIPMENT, Domain.NETWORK, Domain.SOFTWARE)]
    by_category: dict = {}
    for article in articles:
        for c in article.categories.all():
            by_category.setdefault(c.pk, article)
    solved = []
    for t in resolvable:
        article = by_category.get(t.category_id)
        if article is not None and rng.random() < 0.12:
            t.resolved_by_article = article
            article.resolved_count += 1
            solved.append(t)
    Ticket.objects.bulk_update(solved, ["resolved_by_article"], batch_size=500)
    for article in articles:
        article.useful_yes = article.resolved_count * 2 + rng.randint(0, 9)
        article.useful_no = rng.randint(0, 4)
    Article.objects.bulk_update(articles, ["resolved_count", "useful_yes", "useful_no"])
    with _no_mail():
        _real_flows(rng, users, first, articles, counts, context.get("workshops") or [])
    counts.update(tickets=Ticket.objects.count(), comments=Comment.objects.count(), merged=len(merged),
                  open=Ticket.objects.exclude(status__in=[Status.RESOLVED, Status.CLOSED]).count())
    # The figures page reads figures computed ahead of time (what cron's `preau helpdesk-figures` does).
    counts["figures"] = snapshots.refresh_all()["computed"]
    return counts


demo.register(50, "helpdesk", build_helpdesk)
