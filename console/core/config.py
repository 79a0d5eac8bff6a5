"""Configuration: YAML profiles, where they are found, and their validation.

A file looks like::

    default_profile: demo
    profiles:
      demo:
        environment: development     # production: read-only by default
        workspace: ./workspace       # store.db, prompts/, flags.json, policy.rego
        metrics: {kind: workspace}
        request_log: {kind: workspace}
        registry: {kind: files, path: ./workspace/prompts}
        flags: {kind: flagd, path: ./workspace/flags.json}
        replay_targets:
          local: {kind: openai, url: "http://127.0.0.1:18080/v1"}
        alerting:                    # one source, or a list of them
          - {kind: prometheus, url: "http://127.0.0.1:9090"}
          - {kind: alertmanager, url: "http://127.0.0.1:9093"}
      prod:
        environment: production
        metrics: {kind: prometheus, url: "https://prom.example", token: {keyring: prom}}

Secrets are never values in the file: a secret option is ``{keyring: NAME}``
or ``{env: VAR}``. Every error names the file, the line and the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors import discovery
from connectors import options as options_mod
from connectors.support.yaml_lines import KeyPath, Located, YamlFileError, load
from console.core import settings as config_settings
from console.core.errors import ConfigError

ENVIRONMENTS = ("development", "staging", "production")
SECRET_WORDS = ("token", "password", "secret", "api_key", "apikey", "authorization")
PROFILE_KEYS = {
    "environment": "development, staging or production",
    "read_only": "refuse every write (default: true in production)",
    "workspace": "directory of the embedded store and files",
    "refresh_seconds": "seconds between live panel refreshes (default 5)",
    "allow_production_replay": "let replays go to targets marked production",
    "replay_targets": "named OpenAI-compatible endpoints",
    "panels": "PromQL overrides per panel",
    "prices": "per-model price per 1k input and output tokens",
    "budgets": "per-tenant daily budgets in dollars",
    "tenants": "display names for the hashed tenant ids (hash: name)",
    "slos": "behaviour objectives per route (/path) or per prompt version (prompt NAME)",
    "alerts": "burn-rate windows and factors, pending and absence times",
    "drift": "drift thresholds",
    "replay": "replay budgets in dollars (per_replay, per_batch) and similar_threshold",
    "user": "who the audit log names (default: the login name)",
    **{cap: f"the {cap.replace('_', ' ')} connector" for cap in discovery.CAPABILITIES},
    "alerting": "the team's alert sources (prometheus, alertmanager): one, or a list",
}
# Capabilities a profile configures more than once: replay targets by name,
# alert sources as a list (or one mapping); the others have one connector each.
MULTI = ("replay", "alerting")


@dataclass(frozen=True)
class SecretRef:
    """A pointer to a secret: ``source`` is ``keyring`` or ``env``. Never the value."""

    source: str
    name: str
    where: str  # "file:line: key", for error messages

    def __repr__(self) -> str:
        return f"SecretRef({self.source}:{self.name})"


@dataclass(frozen=True)
class ConnectorSpec:
    """One connector in a profile: its kind, options (secrets as SecretRef), and origin."""

    capability: str
    kind: str
    options: dict[str, Any]
    where: str
    key_where: dict[str, str] = field(default_factory=dict)  # option -> "file:line: key"


@dataclass(frozen=True)
class Profile:
    """A validated profile."""

    name: str
    environment: str
    read_only: bool
    workspace: Path | None
    connectors: dict[str, ConnectorSpec]
    replay_targets: dict[str, ConnectorSpec]
    refresh_seconds: float = 5.0
    allow_production_replay: bool = False
    user: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    alerting: tuple[ConnectorSpec, ...] = ()

    @property
    def is_production(self) -> bool:
        return self.environment == "production"


@dataclass(frozen=True)
class Config:
    """All profiles of one file."""

    file: Path
    profiles: dict[str, Profile]
    default_profile: str

    def profile(self, name: str | None = None) -> Profile:
        """The named profile (or the default). Raises ConfigError naming the choices."""
        key = name or self.default_profile
        if key not in self.profiles:
            raise ConfigError(
                f"{self.file}: no profile {key!r} (profiles: {', '.join(sorted(self.profiles))})"
            )
        return self.profiles[key]


def user_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "llmdeck"


def candidates(explicit: str | None = None) -> list[Path]:
    """Where a config is looked for, in order: --config, $LLMDECK_CONFIG,
    ./llmdeck.yaml, the user config directory."""
    if explicit:
        return [Path(explicit)]
    out = []
    if os.environ.get("LLMDECK_CONFIG"):
        out.append(Path(os.environ["LLMDECK_CONFIG"]))
    out += [Path("llmdeck.yaml"), user_config_dir() / "llmdeck.yaml"]
    return out


def find(explicit: str | None = None) -> Path:
    """The config file to use. Raises ConfigError listing where it looked."""
    paths = candidates(explicit)
    for path in paths:
        if path.is_file():
            return path
    if explicit or os.environ.get("LLMDECK_CONFIG"):
        raise ConfigError(f"{paths[0]}: config file not found")
    looked = ", ".join(str(p) for p in paths)
    raise ConfigError(f"no config found (looked in {looked}); try `llmdeck demo`")


def load_config(path: Path) -> Config:
    """Read and validate a config file. Raises ConfigError (file:line: key: problem)."""
    try:
        doc = load(path)
    except YamlFileError as exc:
        raise ConfigError(str(exc)) from None
    return parse(doc)


def parse(doc: Located) -> Config:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
        raise _err(doc, (), "expected a mapping with a 'profiles' mapping")
    for key in data:
        if key not in ("profiles", "default_profile"):
            raise _err(doc, (key,), "unknown key (known: profiles, default_profile)")
    profiles = {
        str(name): _profile(doc, str(name), spec) for name, spec in data["profiles"].items()
    }
    if not profiles:
        raise _err(doc, ("profiles",), "no profiles defined")
    default = str(data.get("default_profile") or next(iter(profiles)))
    if default not in profiles:
        raise _err(doc, ("default_profile",), f"names no profile ({', '.join(profiles)})")
    return Config(file=doc.file, profiles=profiles, default_profile=default)


def _err(doc: Located, path: KeyPath, message: str) -> ConfigError:
    return ConfigError(str(doc.error(path, message)))


def _where(doc: Located, path: KeyPath) -> str:
    return str(doc.error(path, "")).rstrip(": ")


def _profile(doc: Located, name: str, spec: Any) -> Profile:
    base: KeyPath = ("profiles", name)
    if not isinstance(spec, dict):
        raise _err(doc, base, "a profile must be a mapping")
    for key in spec:
        if key not in PROFILE_KEYS:
            raise _err(doc, (*base, key), f"unknown key (known: {', '.join(sorted(PROFILE_KEYS))})")
    env = spec.get("environment", "development")
    if env not in ENVIRONMENTS:
        raise _err(doc, (*base, "environment"), f"must be one of {', '.join(ENVIRONMENTS)}")
    read_only = spec.get("read_only", env == "production")
    if not isinstance(read_only, bool):
        raise _err(doc, (*base, "read_only"), "must be true or false")
    refresh = spec.get("refresh_seconds", 5)
    if not isinstance(refresh, int | float) or refresh <= 0:
        raise _err(doc, (*base, "refresh_seconds"), "must be a positive number")
    root = doc.file.parent
    workspace = (
        _checked_path(doc, (*base, "workspace"), root, spec["workspace"])
        if spec.get("workspace")
        else None
    )
    connectors = {}
    for cap in discovery.CAPABILITIES:
        if cap in MULTI or cap not in spec:
            continue
        connectors[cap] = _connector(doc, (*base, cap), cap, spec[cap], root, workspace)
    targets = {}
    raw_targets = spec.get("replay_targets") or {}
    if not isinstance(raw_targets, dict):
        raise _err(doc, (*base, "replay_targets"), "must map target names to connectors")
    for tname, tspec in raw_targets.items():
        path = (*base, "replay_targets", tname)
        targets[str(tname)] = _connector(doc, path, "replay", tspec, root, workspace)
    alerting = _alerting(doc, (*base, "alerting"), spec.get("alerting"), root, workspace)
    settings = config_settings.check(doc, base, spec)
    return Profile(
        name=name,
        environment=env,
        read_only=read_only,
        workspace=workspace,
        connectors=connectors,
        replay_targets=targets,
        refresh_seconds=float(refresh),
        allow_production_replay=_flag(doc, (*base, "allow_production_replay"), spec),
        user=str(spec.get("user", "")),
        settings=settings,
        source=doc.file,
        alerting=alerting,
    )


def _alerting(
    doc: Located, path: KeyPath, raw: Any, root: Path, workspace: Path | None
) -> tuple[ConnectorSpec, ...]:
    """The ``alerting:`` section: one connector mapping or a list of them."""
    if raw is None:
        return ()
    if isinstance(raw, dict):
        return (_connector(doc, path, "alerting", raw, root, workspace),)
    if not isinstance(raw, list) or not raw:
        raise _err(doc, path, "expected a connector {kind: ..., url: ...} or a list of them")
    return tuple(
        _connector(doc, (*path, i), "alerting", item, root, workspace) for i, item in enumerate(raw)
    )


def _flag(doc: Located, path: KeyPath, spec: dict[str, Any]) -> bool:
    """A true/false key (default false); a quoted "false" is an error, not true."""
    value = spec.get(str(path[-1]), False)
    if not isinstance(value, bool):
        raise _err(doc, path, "must be true or false")
    return value


def _path(root: Path, value: Any) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else (root / path).resolve()


def _checked_path(doc: Located, path: KeyPath, root: Path, value: Any) -> Path:
    """``value`` resolved against ``root``; a NUL or ``~nosuchuser`` is a ConfigError."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise _err(doc, path, "expected a path (a non-empty string without NUL characters)")
    try:
        return _path(root, value)
    except (RuntimeError, ValueError, OSError) as exc:  # expanduser, resolve
        raise _err(doc, path, f"not a usable path: {exc}") from None


def _declared(cap: str, kind: str) -> tuple[options_mod.Option, ...] | None:
    """The kind's declared options, or None when its class declares none or
    cannot be imported here (``Session.build`` then reports it as unavailable)."""
    try:
        cls = discovery.load(cap, kind)
    except (KeyError, ImportError):
        return None
    return options_mod.declared(cls)


def _is_secret_ref(value: Any) -> bool:
    return isinstance(value, dict) and bool(set(value) & {"keyring", "env"})


def _connector(
    doc: Located, path: KeyPath, cap: str, spec: Any, root: Path, workspace: Path | None
) -> ConnectorSpec:
    if not isinstance(spec, dict) or "kind" not in spec:
        raise _err(doc, path, "needs a mapping with a 'kind'")
    if not isinstance(spec["kind"], str):
        raise _err(doc, (*path, "kind"), "expected a connector kind name")
    kind = spec["kind"]
    known = discovery.kinds(cap)
    if kind not in known:
        raise _err(
            doc, (*path, "kind"), f"unknown connector kind {kind!r} (known: {', '.join(known)})"
        )
    declared = _declared(cap, kind)
    types = {o.name: o.type for o in declared or ()}
    options: dict[str, Any] = {}
    key_where: dict[str, str] = {}
    for key, value in spec.items():
        if key == "kind":
            continue
        key = str(key)
        where = key_where[key] = _where(doc, (*path, key))
        if _is_secret_ref(value):
            if len(value) != 1 or not isinstance(next(iter(value.values())), str):
                raise _err(doc, (*path, key), "a secret is {keyring: NAME} or {env: VAR}")
            source, name = next(iter(value.items()))
            options[key] = SecretRef(source, name, where)
        elif declared is None and any(w in key.lower() for w in SECRET_WORDS):
            # Undeclared (third-party) kinds: guess secrets by name; declared
            # kinds say which options are secrets, checked below.
            raise _err(
                doc,
                (*path, key),
                "secrets are never stored in the file; write "
                "{keyring: NAME} (see `llmdeck secrets set`) or {env: VAR}",
            )
        elif types.get(key) is Path or (declared is None and key in ("path", "file")):
            options[key] = _checked_path(doc, (*path, key), root, value)
        else:
            options[key] = value
    if declared is not None:
        try:
            options_mod.check(options, declared, is_secret=lambda v: isinstance(v, SecretRef))
        except options_mod.OptionError as exc:
            raise _err(doc, (*path, exc.key), exc.message) from None
    if kind == "workspace" and "path" not in options:
        if workspace is None:
            raise _err(doc, path, "a workspace connector needs the profile's 'workspace'")
        options["path"] = workspace / "store.db"
    return ConnectorSpec(cap, kind, options, _where(doc, path), key_where)
