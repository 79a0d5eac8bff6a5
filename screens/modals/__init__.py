"""Dialogs: each a ``ModalScreen[T]`` that answers with ``dismiss``.

- ``ConfirmScreen`` -> ``Confirmation``: the write pipeline's plan, confirmed or not;
- ``ReasonScreen`` -> ``str | None``: a required reason (break-glass);
- ``AliasScreen`` -> ``str | None``: which alias to move;
- ``WeightsScreen`` -> ``str | None``: variant weights as typed;
- ``HelpScreen`` -> ``None``: the keys of the screen below.
"""

from screens.modals.alias import AliasScreen
from screens.modals.confirm import ConfirmScreen, ReasonScreen
from screens.modals.help import HelpScreen
from screens.modals.weights import WeightsScreen

__all__ = ["AliasScreen", "ConfirmScreen", "HelpScreen", "ReasonScreen", "WeightsScreen"]
