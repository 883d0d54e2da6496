"""Instructor tools: running a class (the hub, reports)."""
