"""Placeholder: the demo requests are built below (filled in later in this file)."""
