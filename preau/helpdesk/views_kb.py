"""Knowledge-base pages under /assistance/aide/: the list (search, category filter, the articles that most
often resolve a request first), an article (plain text, "was this useful" in htmx), and the editor.

Who (preau.helpdesk.kb): everyone logged in reads the published articles; drafts and the editor are for
the agglomeration (any article) and advisors (pedagogy articles). A draft the user may not edit is a 404,
the editor without the right a 403.
"""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from preau.core.pagination import paginate

from . import access, kb, services
from .models import ArticleVote, Category


class ArticleForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Titre"), max_length=200)
    summary = forms.CharField(label=gettext_lazy("Résumé (une phrase)"), max_length=300, required=False)
    body = forms.CharField(label=gettext_lazy("Texte"), widget=forms.Textarea(attrs={"rows": 16}),
                           help_text=gettext_lazy("Texte simple : une ligne vide sépare les paragraphes."))
    categories = forms.ModelMultipleChoiceField(label=gettext_lazy("Catégories"), queryset=Category.objects.none(),
                                                required=False, widget=forms.CheckboxSelectMultiple)
    published = forms.BooleanField(label=gettext_lazy("Publié (visible de tous)"), required=False, initial=True)

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["categories"].queryset = kb.editable_categories(user)


@login_required
def kb_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:200]
    slug = request.GET.get("categorie", "")
    categories = list(Category.objects.filter(active=True))
    chosen = next((c for c in categories if c.slug == slug), None)
    qs = kb.search(kb.articles_for(request.user), q)
    if chosen is not None:
        qs = qs.filter(categories=chosen)
    page = paginate(request, qs.prefetch_related("categories"), per_page=20)
    return render(request, "helpdesk/kb_list.html", {
        "page": page, "q": q, "categories": categories, "chosen": chosen, "can_write": kb.can_write(request.user),
        "can_ask": can_ask(request.user),
    })


def can_ask(user) -> bool:
    """Shows the "make a request" link: the schools' staff (and the agglomeration, on their behalf)."""
    return user.role in access.SCHOOL_ROLES or access.is_agglomeration(user)


def _vote_context(request, article) -> dict:
    vote = ArticleVote.objects.filter(article=article, user=request.user).values_list("useful", flat=True).first()
    return {"article": article, "vote": vote, "can_ask": can_ask(request.user)}


@login_required
def kb_article(request: HttpRequest, slug: str) -> HttpResponse:
    article = kb.get_article(request.user, slug)
    return render(request, "helpdesk/kb_article.html", {
        **_vote_context(request, article), "categories": list(article.categories.all()),
        "can_edit": kb.can_edit(request.user, article),
    })


@login_required
@require_POST
def kb_vote(request: HttpRequest, slug: str) -> HttpResponse:
    article = kb.get_article(request.user, slug)
    answer = request.POST.get("useful", "")
    if answer not in ("oui", "non"):
        return HttpResponse(_("Répondez « oui » ou « non »."), status=400)
    article = services.do_vote(request.user, article, answer == "oui")
    if request.htmx:
        return render(request, "helpdesk/kb_vote.html", _vote_context(request, article))
    messages.success(request, _("Merci pour votre réponse."))
    return redirect("helpdesk:kb-article", slug=article.slug)


def _edit(request: HttpRequest, article=None) -> HttpResponse:
    kb.require_edit(request.user, article)
    initial = None
    if article is not None:
        initial = {"title": article.title, "summary": article.summary, "body": article.body,
                   "published": article.published, "categories": list(article.categories.all())}
    form = ArticleForm(request.user, request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not data["categories"] and not kb.is_agglomeration(request.user):
            form.add_error("categories", _("Choisissez au moins une catégorie de pédagogie."))
        else:
            article = kb.save_article(request.user, article, title=data["title"], summary=data["summary"],
                                      body=data["body"], categories=data["categories"],
                                      published=data["published"])
            messages.success(request, _("Article enregistré."))
            return redirect("helpdesk:kb-article", slug=article.slug)
    return render(request, "helpdesk/kb_form.html", {"form": form, "article": article},
                  status=400 if form.errors else 200)


@login_required
def kb_create(request: HttpRequest) -> HttpResponse:
    return _edit(request)


@login_required
def kb_edit(request: HttpRequest, slug: str) -> HttpResponse:
    return _edit(request, kb.get_article(request.user, slug))
