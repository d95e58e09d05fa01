"""Requests: filing, the request page and its actions, queues, reply by link, preferences."""

from django.urls import path

from . import views, views_queue, views_ticket

urlpatterns = [
    path("nouvelle/", views.new_ticket, name="new"),
    path("nouvelle/aide/", views.new_assist, name="new-assist"),
    path("nouvelle/resolu/", views.self_resolved, name="self-resolved"),
    path("file/", views_queue.queue, name="queue"),
    path("file/export.<str:fmt>", views_queue.queue_export, name="queue-export"),
    path("mes-demandes/", views_queue.mine, name="mine"),
    path("ecole/<str:uai>/", views_queue.school_list, name="school"),
    path("preferences/", views.preferences, name="preferences"),
    path("repondre/<str:token>/", views.reply, name="reply"),
    path("<int:pk>/", views_ticket.ticket_detail, name="ticket"),
    path("<int:pk>/fichier/<int:att>/", views.attachment, name="attachment"),
    path("<int:pk>/<slug:action>/", views_ticket.ticket_action, name="ticket-action"),
]
