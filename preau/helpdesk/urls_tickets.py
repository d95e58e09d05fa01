"""Requests: filing, the request page and its actions, queues, reply by link, preferences."""

urlpatterns = []
