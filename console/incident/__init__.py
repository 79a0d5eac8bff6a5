"""The incident record: its timeline, notes and the postmortem export."""
