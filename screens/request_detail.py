"""One request in full: parameters and seed, messages with tool calls and
results, retrieval context, output, safety, usage; copy it as JSON or curl;
``p`` asks the profile's policy whether it would be allowed."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from connectors.records import PolicyDecision, RequestRecord
from console.core.tenants import names as tenant_names
from screens import navigation, request_actions
from screens.base import DeckScreen
from screens.poller import describe as describe_error


class RequestDetailScreen(DeckScreen):
    """The detail of ``record``; escape goes back to the table."""

    TITLE = "Request"
    CSS_PATH = "request_detail.tcss"
    AUTO_FOCUS = "#detail-body"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("p", "policy", "Policy check"),
        Binding("j", "copy('json')", "Copy JSON"),
        Binding("c", "copy('curl')", "Copy curl"),
        *request_actions.bindings(),
    ]

    def __init__(self, record: RequestRecord) -> None:
        super().__init__()
        self.record = record
        self.decision: PolicyDecision | None = None

    def compose_body(self) -> ComposeResult:
        from console.requests.detail import sections

        with VerticalScroll(id="detail-body"):
            yield Static("", id="detail-policy")
            for title, lines in sections(self.record, tenant_names(self.session)):
                classes = "detail-section"
                if title.startswith("Messages") and not self.record.has_content:
                    classes += " -missing"
                yield Static(Text(title), classes="detail-title")
                yield Static(Text("\n".join(lines)), classes=classes)

    def action_back(self) -> None:
        navigation.back(self.app)

    def action_policy(self) -> None:
        from console.requests.policy import check

        box = self.query_one("#detail-policy", Static)
        box.set_classes("-open")
        box.update(Text("policy: evaluating…"))
        self.load(
            "policy-check", lambda: check(self.session, self.record), self.show_decision,
            self._policy_failed,
        )  # fmt: skip

    def _policy_failed(self, error: BaseException) -> None:
        box = self.query_one("#detail-policy", Static)
        box.set_classes("-open -error")
        box.update(Text(f"policy: cannot evaluate: {describe_error(error)}"))

    def show_decision(self, d: PolicyDecision) -> None:
        from console.requests.policy import verdict

        self.decision = d
        word = verdict(d)
        text = Text(f"policy: {word.upper()}", style="bold")
        if d.allowed is None:
            text.append("  (the policy left allow undefined)")
        for msg in d.denials:
            text.append(f"\n  deny: {msg}")
        box = self.query_one("#detail-policy", Static)
        box.set_classes(f"-open -{word}")
        box.update(text)

    def action_copy(self, kind: str) -> None:
        from console.requests.query import FilterError, export

        try:
            body, path = export(self.session, self.record, kind)
        except FilterError as exc:
            self.notify(str(exc), severity="warning")
            return
        except OSError as exc:
            self.notify(f"cannot save the export: {exc.strerror or exc}", severity="error")
            return
        self.app.copy_to_clipboard(body)
        label = "JSON" if kind == "json" else "curl command"
        self.notify(f"Copied as {label}; also saved to {path}", title="Copied")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Replay is not offered under --read-only (it would be refused).
        return request_actions.check(self, action, parameters)

    def action_request_action(self, name: str) -> None:
        request_actions.run(name, self, self.record)
