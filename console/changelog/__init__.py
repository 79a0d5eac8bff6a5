"""What changed, when and by whom: the change markers the charts, alerts and incidents share."""
