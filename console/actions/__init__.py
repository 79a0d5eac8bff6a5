"""The one write pipeline: every change the console or its CLI makes to a
backend is planned, confirmed, re-checked, written, verified and audited here.

UI and CLI share everything except how the operator confirms::

    pipeline = Pipeline(session)
    plan = pipeline.plan(SetWeights("support-answer-rollout", {"v13": 100, "v14": 0}))
    outcome = pipeline.execute(plan, Confirmation(True, reason="v14 refuses too much"))
"""

from console.actions.changes import (
    BlockModel,
    Change,
    MoveAlias,
    RollbackRoute,
    SetEnabled,
    SetWeights,
    SilenceAlert,
)
from console.actions.pipeline import Pipeline
from console.actions.plan import Blast, Confirmation, Outcome, Plan, Step

__all__ = [
    "Blast",
    "BlockModel",
    "Change",
    "Confirmation",
    "MoveAlias",
    "Outcome",
    "Pipeline",
    "Plan",
    "RollbackRoute",
    "SetEnabled",
    "SetWeights",
    "SilenceAlert",
    "Step",
]
