"""Shared test support: databases and a small world of parties to act in."""
