"""Reminders: the sweep that posts digests and escalations, and its APScheduler scheduler."""
