from django.urls import path

from . import views, views_import

app_name = "territory"
urlpatterns = [
    path("carte/", views.territory_map, name="map"),
    path("communes/", views.commune_list, name="communes"),
    path("communes/<str:insee>/", views.commune_detail, name="commune"),
    path("ecoles/", views.school_list, name="schools"),
    path("ecoles/export.<str:fmt>", views.school_export, name="schools-export"),
    path("ecoles/<str:uai>/", views.school_detail, name="school"),
    path("ecoles/<str:uai>/connectivite/", views.connectivity_edit, name="connectivity-edit"),
    path("recherche/", views.search, name="search"),
    path("imports/", views_import.import_form, name="imports"),
]
