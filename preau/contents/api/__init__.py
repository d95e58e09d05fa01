"""The contents JSON API under /api/v1/contents/ (see views.py)."""
