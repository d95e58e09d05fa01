"""Knowledge base and figures."""

urlpatterns = []
