"""Contents pages under /contenus/: collections and their releases (publishing from a server folder as a
background job, or from an uploaded archive (uploads.py), withdrawing, subscriptions), the schools' NAS (check-ins, versions held, enrolment codes,
revocation, mode).

Who (preau.contents.access): admins and technicians manage; committees read everything; commune staff,
advisors, directors and teachers see the NAS of the schools they see; others get a 403 (404 for a school out
of scope). Refusals are French messages with HTTP 400, and nothing is written.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from preau.accounts import access as territory_access
from preau.core.pagination import paginate
from preau.territory.models import SchoolKind

from . import access, forms, services, uploads
from . import jobs as contents_jobs
from .models import Collection, NasNode, Release, Subscription

NODE_STATUSES = [  # labels translated where they are shown
    ("enrolled", gettext_noop("enrôlés")),
    ("silent", gettext_noop("silencieux")),
    ("never", gettext_noop("jamais enrôlés")),
    ("revoked", gettext_noop("révoqués")),
    ("error", gettext_noop("en erreur")),
]


def silent_days() -> int:
    return int(getattr(settings, "PREAU_NAS_SILENT_DAYS", 7))


def current_versions() -> dict[str, int]:
    """{collection slug: version of its current (not withdrawn) release}, in one query."""
    out: dict[str, int] = {}
    for slug, version in (Release.objects.filter(withdrawn_at__isnull=True).order_by("collection__slug", "-version")
                          .values_list("collection__slug", "version")):
        out.setdefault(slug, version)
    return out


def describe_node(node: NasNode, current: dict[str, int], now=None) -> NasNode:
    """Adds display fields: silent_for (days, when past the threshold), held_list [(slug, version, state)]."""
    now = now or timezone.now()
    node.silent_for = None
    if node.is_active and node.last_checkin_at and now - node.last_checkin_at > timedelta(days=silent_days()):
        node.silent_for = (now - node.last_checkin_at).days
    node.held_list = []
    for slug, version in sorted((node.held or {}).items()):
        latest = current.get(slug)
        state = "uptodate" if latest is not None and version >= latest else "late"
        node.held_list.append((slug, version, state, latest))
    return node


def describe_subscription(sub: Subscription) -> str:
    if sub.scope == Subscription.Scope.COMMUNE and sub.commune:
        return _("les écoles de %(c)s (%(insee)s)") % {"c": sub.commune.name, "insee": sub.commune.insee}
    if sub.scope == Subscription.Scope.KIND:
        kind = SchoolKind(sub.school_kind).label if sub.school_kind in SchoolKind.values else sub.school_kind
        return _("les écoles de type « %(k)s »") % {"k": kind}
    if sub.scope == Subscription.Scope.SCHOOL and sub.school:
        return _("l'école %(s)s (%(uai)s)") % {"s": sub.school.name, "uai": sub.school.uai}
    return str(sub.get_scope_display())


# --------------------------------------------------------------------------- collections


@login_required
def collection_list(request: HttpRequest) -> HttpResponse:
    access.require_read_collections(request.user)
    can_manage = access.can_manage_contents(request.user)
    form = forms.CollectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        access.require_manage_contents(request.user)
        if form.is_valid():
            try:
                collection = services.do_create_collection(request.user, **form.cleaned_data)
            except (services.ContentsError, ValueError) as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Collection « %(n)s » créée, pour toutes les écoles.")
                                 % {"n": collection.name})
                return redirect("contents:collection", slug=collection.slug)
        status = 400
    collections = list(access.collections_for(request.user).annotate(n_subs=Count("subscriptions")))
    latest: dict[int, Release] = {}
    for release in Release.objects.filter(withdrawn_at__isnull=True).order_by("collection_id", "-version"):
        latest.setdefault(release.collection_id, release)
    for c in collections:
        c.current = latest.get(c.pk)
    return render(request, "contents/collections.html",
                  {"collections": collections, "form": form, "can_manage": can_manage}, status=status)


def _collection_context(request, collection: Collection, **extra) -> dict:
    releases = list(collection.releases.select_related("published_by").order_by("-version"))
    subs = list(collection.subscriptions.select_related("commune", "school"))
    for s in subs:
        s.label = describe_subscription(s)
    ctx = {
        "collection": collection, "releases": releases, "subscriptions": subs,
        "current": services.current_release(collection),
        "can_manage": access.can_manage_contents(request.user),
        "publish_form": forms.PublishForm(), "upload_form": forms.UploadPublishForm(),
        "upload_max": uploads.human(uploads.max_bytes()), "subscription_form": forms.SubscriptionForm(),
        "withdraw_form": forms.WithdrawForm(), "import_root": forms.import_root(),
    }
    ctx.update(extra)
    return ctx


@login_required
def collection_detail(request: HttpRequest, slug: str) -> HttpResponse:
    collection = access.get_collection(request.user, slug)
    return render(request, "contents/collection.html", _collection_context(request, collection))


@login_required
@require_POST
def collection_publish(request: HttpRequest, slug: str) -> HttpResponse:
    collection = access.get_collection(request.user, slug)
    access.require_manage_contents(request.user)
    form = forms.PublishForm(request.POST)
    if not form.is_valid():
        return render(request, "contents/collection.html",
                      _collection_context(request, collection, publish_form=form), status=400)
    job = contents_jobs.enqueue_publish(request.user, collection, notes=form.cleaned_data["notes"],
                                        src_dir=form.cleaned_data["src_dir"])
    return redirect("core:job", job_id=job.pk)


@csrf_exempt
@login_required
@require_POST
def collection_upload(request: HttpRequest, slug: str) -> HttpResponse:
    """Publish from an uploaded archive: written straight into its upload folder (capped), checked, then the
    same publish job (extraction with every check, publication, the upload removed)."""
    collection = access.get_collection(request.user, slug)
    access.require_manage_contents(request.user)
    # Before anything reads the body (hence csrf_exempt here and the check just below).
    request.upload_handlers = [uploads.ArchiveUploadHandler(request)]
    response = _collection_upload(request, collection)
    if response.status_code == 403:  # the CSRF check refused it after reading the body: drop the upload
        _discard_uploads(request)
    return response


def _discard_uploads(request: HttpRequest) -> None:
    for f in request.FILES.values():
        if isinstance(f, uploads.ArchiveUpload):
            uploads.discard(f.token)


@csrf_protect
def _collection_upload(request: HttpRequest, collection: Collection) -> HttpResponse:
    form = forms.UploadPublishForm(request.POST, request.FILES)
    token = ""
    if form.is_valid():
        archive = form.cleaned_data["archive"]
        try:
            token = uploads.receive(archive)
        except uploads.ArchiveRefused as exc:
            form.add_error("archive", str(exc))
    if not token:
        _discard_uploads(request)
        return render(request, "contents/collection.html",
                      _collection_context(request, collection, upload_form=form), status=400)
    job = contents_jobs.enqueue_publish(request.user, collection, notes=form.cleaned_data["notes"],
                                        upload=token, archive=archive.name)
    return redirect("core:job", job_id=job.pk)


@login_required
@require_POST
def release_withdraw(request: HttpRequest, slug: str, version: int) -> HttpResponse:
    collection = access.get_collection(request.user, slug)
    access.require_manage_contents(request.user)
    release = get_object_or_404(Release, collection=collection, version=version)
    form = forms.WithdrawForm(request.POST)
    error = None
    if form.is_valid():
        try:
            services.do_withdraw_release(request.user, release, form.cleaned_data["reason"])
        except services.ContentsError as exc:
            error = str(exc)
    else:
        error = _("Retrait de la version %(v)s : donnez le motif du retrait.") % {"v": version}
    if error:
        return render(request, "contents/collection.html",
                      _collection_context(request, collection, error=error), status=400)
    messages.success(request, _("Version %(v)s retirée.") % {"v": version})
    return redirect("contents:collection", slug=collection.slug)


@login_required
@require_POST
def subscription_add(request: HttpRequest, slug: str) -> HttpResponse:
    collection = access.get_collection(request.user, slug)
    access.require_manage_contents(request.user)
    form = forms.SubscriptionForm(request.POST)
    if not form.is_valid():
        return render(request, "contents/collection.html",
                      _collection_context(request, collection, subscription_form=form), status=400)
    data = form.cleaned_data
    scope = data["scope"]
    wanted = Subscription(collection=collection, scope=scope, commune=data.get("commune_obj"),
                          school_kind=data.get("school_kind", ""), school=data.get("school_obj"))
    try:
        sub = services.do_subscribe(request.user, collection, scope=scope, commune=data.get("commune_obj"),
                                    school_kind=data.get("school_kind", ""), school=data.get("school_obj"))
    except services.ContentsError:
        return render(request, "contents/collection.html", _collection_context(
            request, collection, subscription_form=form,
            error=_("Cet abonnement existe déjà : %(s)s.") % {"s": describe_subscription(wanted)}), status=400)
    messages.success(request, _("Abonnement ajouté : %(s)s.") % {"s": describe_subscription(sub)})
    return redirect("contents:collection", slug=collection.slug)


@login_required
@require_POST
def subscription_remove(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    collection = access.get_collection(request.user, slug)
    access.require_manage_contents(request.user)
    sub = get_object_or_404(Subscription, collection=collection, pk=pk)
    label = describe_subscription(sub)
    services.do_unsubscribe(request.user, sub)
    messages.success(request, _("Abonnement retiré : %(s)s.") % {"s": label})
    return redirect("contents:collection", slug=collection.slug)


# --------------------------------------------------------------------------- NAS nodes


def filter_nodes(qs, status: str, now=None):
    now = now or timezone.now()
    limit = now - timedelta(days=silent_days())
    if status == "enrolled":
        return qs.filter(enrolled_at__isnull=False, revoked_at__isnull=True)
    if status == "silent":
        return qs.filter(enrolled_at__isnull=False, revoked_at__isnull=True).filter(
            Q(last_checkin_at__lt=limit) | Q(last_checkin_at__isnull=True))
    if status == "never":
        return qs.filter(enrolled_at__isnull=True)
    if status == "revoked":
        return qs.filter(revoked_at__isnull=False)
    if status == "error":
        return qs.exclude(last_error="")
    return qs


@login_required
def node_list(request: HttpRequest) -> HttpResponse:
    access.require_see_nodes(request.user)
    qs = access.nodes_for(request.user).select_related("school__commune")
    commune = request.GET.get("commune", "").strip().upper()
    status = request.GET.get("status", "")
    if commune:
        qs = qs.filter(school__commune__insee=commune)
    qs = filter_nodes(qs, status).order_by("school__name", "pk")
    page = paginate(request, qs)
    current, now = current_versions(), timezone.now()
    for node in page:
        describe_node(node, current, now)
    return render(request, "contents/nodes.html", {
        "page": page, "commune": commune, "status": status,
        "communes": territory_access.communes_for(request.user).order_by("name"),
        "statuses": [(value, _(label)) for value, label in NODE_STATUSES],
        "silent_days": silent_days(),
    })


def _node_context(request, school, node, **extra) -> dict:
    if node is not None:
        describe_node(node, current_versions())
    ctx = {
        "school": school, "node": node,
        "deliveries": node.deliveries.select_related("release__collection")[:200] if node else [],
        "collections": services.collections_for_school(school),
        "can_manage": access.can_manage_contents(request.user),
        "revoke_form": forms.RevokeForm(),
        "mode_form": forms.ModeForm(initial={"mode": node.mode if node else NasNode.Mode.AUTO}),
        "server_url": request.build_absolute_uri("/").rstrip("/"),
        "silent_days": silent_days(),
    }
    ctx.update(extra)
    return ctx


@login_required
def node_detail(request: HttpRequest, uai: str) -> HttpResponse:
    school, node = access.get_node_school(request.user, uai)
    return render(request, "contents/node.html", _node_context(request, school, node))


@login_required
@require_POST
def node_code(request: HttpRequest, uai: str) -> HttpResponse:
    school, _node = access.get_node_school(request.user, uai)
    access.require_manage_contents(request.user)
    node, code = services.do_new_enrolment_code(request.user, school)
    # Shown once, on this answer only (never stored in clear, never in a redirect).
    response = render(request, "contents/node.html", _node_context(request, school, node, code=code))
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def node_revoke(request: HttpRequest, uai: str) -> HttpResponse:
    school, node = access.get_node_school(request.user, uai)
    access.require_manage_contents(request.user)
    form = forms.RevokeForm(request.POST)
    error = None
    if node is None or not node.enrolled_at:
        error = _("Ce NAS n'est pas enrôlé : rien à révoquer.")
    elif node.revoked_at:
        error = _("Ce NAS est déjà révoqué.")
    elif not form.is_valid():
        error = _("Révocation : donnez le motif.")
    if error:
        return render(request, "contents/node.html",
                      _node_context(request, school, node, error=error, revoke_form=form), status=400)
    services.do_revoke(request.user, node, form.cleaned_data["reason"])
    messages.success(request, _("NAS %(n)s révoqué : il devra être réenrôlé avec un nouveau code.")
                     % {"n": node.node_id})
    return redirect("contents:node", uai=school.uai)


@login_required
@require_POST
def node_mode(request: HttpRequest, uai: str) -> HttpResponse:
    school, node = access.get_node_school(request.user, uai)
    access.require_manage_contents(request.user)
    form = forms.ModeForm(request.POST)
    if node is None or not form.is_valid():
        error = _("Mode : ce NAS n'existe pas encore.") if node is None else _("Mode : choix invalide.")
        return render(request, "contents/node.html",
                      _node_context(request, school, node, error=error), status=400)
    node = services.do_set_mode(request.user, node, form.cleaned_data["mode"])
    messages.success(request, _("Mode du NAS : %(m)s.") % {"m": node.get_mode_display()})
    return redirect("contents:node", uai=school.uai)


urlpatterns = [
    path("collections/", collection_list, name="collections"),
    path("collections/<slug:slug>/", collection_detail, name="collection"),
    path("collections/<slug:slug>/publier/", collection_publish, name="publish"),
    path("collections/<slug:slug>/envoyer/", collection_upload, name="publish-upload"),
    path("collections/<slug:slug>/versions/<int:version>/retirer/", release_withdraw, name="withdraw"),
    path("collections/<slug:slug>/abonnements/", subscription_add, name="subscription-add"),
    path("collections/<slug:slug>/abonnements/<int:pk>/supprimer/", subscription_remove,
         name="subscription-remove"),
    path("nas/", node_list, name="nodes"),
    path("nas/<str:uai>/", node_detail, name="node"),
    path("nas/<str:uai>/code/", node_code, name="node-code"),
    path("nas/<str:uai>/revoquer/", node_revoke, name="node-revoke"),
    path("nas/<str:uai>/mode/", node_mode, name="node-mode"),
]
