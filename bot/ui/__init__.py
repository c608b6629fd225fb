"""Block Kit: pure builders of every message, modal and Home tab, and the screens drawn from the database."""
