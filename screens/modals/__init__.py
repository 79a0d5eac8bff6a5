"""Dialogs: each a ``ModalScreen[T]`` that answers with ``dismiss``.

- ``ConfirmScreen`` -> ``Confirmation``: the write pipeline's plan, confirmed or not;
- ``ReasonScreen`` -> ``str | None``: a required reason (break-glass);
- ``AliasScreen`` -> ``str | None``: which alias to move;
- ``WeightsScreen`` -> ``str | None``: variant weights as typed;
- ``HelpScreen`` -> ``None``: the keys of the screen below;
- ``OpenIncidentScreen`` -> ``(title, severity) | None``: a new incident (``I``);
- ``NoteScreen`` -> ``str | None``: a note on the open incident (``n``).
"""

from screens.modals.alias import AliasScreen
from screens.modals.confirm import ConfirmScreen, ReasonScreen
from screens.modals.help import HelpScreen
from screens.modals.incident import NoteScreen, OpenIncidentScreen
from screens.modals.weights import WeightsScreen

__all__ = [
    "AliasScreen",
    "ConfirmScreen",
    "HelpScreen",
    "NoteScreen",
    "OpenIncidentScreen",
    "ReasonScreen",
    "WeightsScreen",
]
