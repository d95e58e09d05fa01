"""Web pages of the assistance under /assistance/: requests (urls_tickets) and the knowledge base and
figures (urls_kb), one namespace."""

from .urls_kb import urlpatterns as kb_patterns
from .urls_tickets import urlpatterns as ticket_patterns

app_name = "helpdesk"
urlpatterns = ticket_patterns + kb_patterns
