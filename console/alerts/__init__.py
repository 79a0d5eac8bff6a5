"""Alerts: SLO burn rates, budgets, drift and absence, with their lifecycle and suspects."""
