"""The fleet's JSON API (assets, device models, batches) under /api/v1/; see views.register."""
