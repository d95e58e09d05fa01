"""Assistance for teachers: help requests routed to the responsible party, deadlines in school working
hours, replacements from a request, notifications, knowledge base."""
