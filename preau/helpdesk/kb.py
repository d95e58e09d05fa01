"""The knowledge base: who reads and who writes articles, the search, and the writes on articles.

- Reading: everyone logged in reads published articles. Drafts only for those who may edit them.
- Writing: the agglomeration (admins, technicians) any article; advisors (Éducation nationale) the
  articles of pedagogy categories only (every category of the article in the pedagogy domain).
- Ordering: the articles that most often resolve a request first, then the most useful (Article.Meta).
- Search: every word must appear in the title, the summary or the text (case-insensitive; one code path
  on SQLite and PostgreSQL).
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from preau.accounts.models import Role
from preau.core import audit
from preau.core.models import AuditEntry

from .access import is_agglomeration
from .models import Article, Category, Domain

MAX_WORDS = 8
RESERVED_SLUGS = {"nouveau"}


def _pedagogy_only_q() -> Q:
    through = Article.categories.through
    pedagogy = through.objects.filter(article_id=OuterRef("pk"), category__domain=Domain.PEDAGOGY)
    other = through.objects.filter(article_id=OuterRef("pk")).exclude(category__domain=Domain.PEDAGOGY)
    return Q(Exists(pedagogy)) & ~Q(Exists(other))


def can_write(user) -> bool:
    """May write some article (the "new article" button)."""
    return user.is_authenticated and (is_agglomeration(user) or user.role == Role.ADVISOR)


def editable_categories(user) -> QuerySet[Category]:
    if is_agglomeration(user):
        return Category.objects.all()
    if user.is_authenticated and user.role == Role.ADVISOR:
        return Category.objects.filter(domain=Domain.PEDAGOGY)
    return Category.objects.none()


def can_edit(user, article: Article) -> bool:
    if is_agglomeration(user):
        return True
    if not (user.is_authenticated and user.role == Role.ADVISOR):
        return False
    return Article.objects.filter(_pedagogy_only_q(), pk=article.pk).exists()


def require_edit(user, article: Article | None = None) -> None:
    allowed = can_write(user) if article is None else can_edit(user, article)
    if not allowed:
        raise PermissionDenied(_("Seules l'équipe de l'agglomération et, pour la pédagogie, les conseillers "
                                 "écrivent les articles d'aide."))


def articles_for(user) -> QuerySet[Article]:
    qs = Article.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if is_agglomeration(user):
        return qs
    if user.role == Role.ADVISOR:
        return qs.filter(Q(published=True) | _pedagogy_only_q())
    return qs.filter(published=True)


def get_article(user, slug: str) -> Article:
    return get_object_or_404(articles_for(user), slug=slug)


def search(qs: QuerySet[Article], text: str) -> QuerySet[Article]:
    for word in (text or "").split()[:MAX_WORDS]:
        qs = qs.filter(Q(title__icontains=word) | Q(summary__icontains=word) | Q(body__icontains=word))
    return qs


def suggest(user, category: Category, text: str = "", limit: int = 5) -> list[Article]:
    """Self-help before sending a request: the category's articles, the ones matching the words first."""
    qs = articles_for(user).filter(published=True, categories=category)
    found = list(search(qs, text)[:limit]) if text.strip() else []
    if len(found) < limit:
        found += list(qs.exclude(pk__in=[a.pk for a in found])[:limit - len(found)])
    return found


def _unique_slug(title: str, exclude_pk=None) -> str:
    base = (slugify(title) or "article")[:70]
    slug, n = base, 2
    while slug in RESERVED_SLUGS or Article.objects.filter(slug=slug).exclude(pk=exclude_pk).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


FIELDS = ["title", "slug", "summary", "body", "published"]


@transaction.atomic
def save_article(user, article: Article | None, *, title: str, summary: str, body: str, categories,
                 published: bool, now=None) -> Article:
    """Create (article=None) or change an article; the categories must be ones the user may write for."""
    require_edit(user, article)
    categories = list(categories)
    allowed = set(editable_categories(user).values_list("pk", flat=True))
    if any(c.pk not in allowed for c in categories):
        raise PermissionDenied(_("Vous ne pouvez écrire que dans les catégories de pédagogie."))
    if not is_agglomeration(user) and not categories:
        raise PermissionDenied(_("Choisissez au moins une catégorie de pédagogie."))
    before = None if article is None else audit.snapshot(article, FIELDS)
    if article is None:
        article = Article(author=user, slug=_unique_slug(title))
    article.title, article.summary, article.body = title.strip(), summary.strip(), body.strip()
    article.published = published
    article.updated_at = now or timezone.now()
    article.save()
    article.categories.set(categories)
    audit.record(user, AuditEntry.Action.CREATE if before is None else AuditEntry.Action.UPDATE, article,
                 before, audit.snapshot(article, FIELDS))
    return article
