"""The gateway's Rego policy, evaluated in process with regopy.

regopy pitfalls (docs/backends.md): it follows OPA v1 syntax; a query whose
result is undefined must be recognised by ``str(output) == "undefined"``
before anything else touches the output (``.expressions()`` on it aborts the
process), so the output is only ever read through its string form.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import orjson

from connectors.base import PolicyEngine
from connectors.errors import (
    NotFound,
    QueryError,
)
from connectors.options import Option
from connectors.policy.decision import decision
from connectors.records import BackendStatus, PolicyDecision


class RegoPolicy(PolicyEngine):
    """A Rego file evaluated in process. ``query`` names the package, e.g.
    ``data.ai.gateway``. Raises NotFound when the file is missing, QueryError
    when it does not compile."""

    kind = "rego"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read"})
    OPTIONS: ClassVar[tuple[Option, ...]] = (
        Option("path", Path, doc="Rego policy file"),
        Option("query", str, "data.ai.gateway", "package to evaluate"),
    )

    def __init__(self, *, path: str | Path, query: str = "data.ai.gateway") -> None:
        self.path = Path(path)
        self.query = query
        self._lock = threading.Lock()
        self._interp: Any = None

    def _interpreter(self) -> Any:
        if self._interp is None:
            from regopy import Interpreter, RegoError

            try:
                source = self.path.read_text(encoding="utf-8")
            except OSError as exc:
                raise NotFound(f"policy {self.path}: {exc.strerror or exc}") from None
            interp = Interpreter()
            try:
                interp.add_module(self.path.name, source)
            except RegoError:
                raise QueryError(f"policy {self.path}: does not parse") from None
            self._interp = interp
        return self._interp

    def ping(self) -> BackendStatus:
        try:
            self.evaluate({})
        except Exception as exc:
            return BackendStatus(ok=False, detail=str(exc).splitlines()[0])
        from regopy import __version__

        return BackendStatus(ok=True, version=f"regopy {__version__}", detail=str(self.path))

    def evaluate(self, request: Mapping[str, Any]) -> PolicyDecision:
        """Evaluate with ``request`` as ``input``. Raises NotFound, QueryError."""
        from regopy import RegoError

        with self._lock:
            interp = self._interpreter()
            try:
                interp.set_input_term(orjson.dumps(request, default=str).decode())
                output = interp.query(self.query)
                text = str(output)
            except RegoError as exc:
                raise QueryError(f"policy {self.path.name}: {_first_line(exc)}") from None
            except ValueError:
                # regopy could not read its own output (seen with sprintf of "").
                raise QueryError(f"policy {self.path.name}: unreadable result") from None
        if text == "undefined":
            return decision(None)
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise QueryError(f"policy {self.path.name}: {text.splitlines()[0][:120]}") from None
        exprs = doc.get("expressions") if isinstance(doc, dict) else None
        if not exprs:
            return decision(None)
        return decision(exprs[0])


def _first_line(exc: BaseException) -> str:
    for line in str(exc).splitlines():
        line = line.strip(" ()")
        if "errormsg" in line:
            return line.split(":", 1)[-1].strip(" )")
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
