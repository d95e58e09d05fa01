"""Préau content engine and NAS agent. Must never import Django."""
