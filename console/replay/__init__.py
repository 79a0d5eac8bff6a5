"""Replay: logged requests sent again to a target, judged against the log.

``request`` builds what is sent (the replay contract), ``fidelity`` judges
it, ``cost`` estimates and caps the spend, ``engine`` runs single and batch
replays, ``store`` keeps the results in the workspace, ``export`` writes
golden JSONL and promptfoo tests.
"""
