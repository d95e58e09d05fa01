"""Knowledge base and figures."""

from django.urls import path

from . import views_figures, views_kb

urlpatterns = [
    path("aide/", views_kb.kb_list, name="kb"),
    path("aide/nouveau/", views_kb.kb_create, name="kb-create"),
    path("aide/<slug:slug>/", views_kb.kb_article, name="kb-article"),
    path("aide/<slug:slug>/modifier/", views_kb.kb_edit, name="kb-edit"),
    path("aide/<slug:slug>/vote/", views_kb.kb_vote, name="kb-vote"),
    path("chiffres/", views_figures.figures_page, name="figures"),
]
