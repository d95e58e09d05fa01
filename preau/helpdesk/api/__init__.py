"""JSON API of the assistance (tickets, categories, knowledge-base articles)."""
