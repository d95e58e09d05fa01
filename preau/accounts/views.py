from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework.authtoken.models import Token

from . import access


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The user's role, scope, and API token (created or renewed on demand)."""
    if request.method == "POST":
        Token.objects.filter(user=request.user).delete()
        Token.objects.create(user=request.user)
        return redirect("profile")
    token = Token.objects.filter(user=request.user).first()
    return render(request, "accounts/profile.html", {
        "token": token,
        "communes": access.communes_for(request.user).order_by("name")[:50],
        "school_count": access.schools_for(request.user).count(),
    })
