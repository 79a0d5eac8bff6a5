"""The alerting capability: what the team's own Prometheus rules and Alertmanager say is active."""
