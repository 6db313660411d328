"""The local stack's state file, so that other processes can find and use a running stack."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.errors import JoseError

from content_service.local.dev_issuer import DevIssuer

STATE_FILE_NAME = "local.json"


def state_home(home: Path | None = None) -> Path:
    """``$CONTENT_SERVICE_HOME`` if set, else ``./.content-service`` (gitignored)."""
    if home is not None:
        return home
    return Path(os.environ.get("CONTENT_SERVICE_HOME") or ".content-service").resolve()


def ensure_home(home: Path) -> Path:
    """Create the state directory private to the user (it holds the dev issuer's key)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return home


def write_state(home: Path, state: dict[str, Any]) -> Path:
    """Write the state file atomically, so a reader never sees half of it."""
    path = home / STATE_FILE_NAME
    scratch = home / f".{STATE_FILE_NAME}.{os.getpid()}"
    scratch.write_text(json.dumps(state, indent=2), encoding="utf-8")
    scratch.replace(path)
    return path


def remove_state(home: Path, pid: int) -> None:
    """Remove the state file if it still describes the stack of process ``pid``."""
    path = home / STATE_FILE_NAME
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == pid:
            path.unlink()
    except (OSError, ValueError):
        pass


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StateFileCorrupt(ValueError):  # noqa: N818 - a refusal of a file, not a programming error
    """The state file names a live process but is not what ``local up`` writes (the line says so)."""


# What every reader of a running stack's state needs (``RunningStack``'s properties).
_REQUIRED_KEYS = {"api_url": str, "endpoint_url": str, "issuer": dict, "environment": dict}


def _live_pid(state: object) -> bool:
    """Whether ``state`` names a live process: a positive integer pid (0 and -1 name groups)."""
    pid = state.get("pid") if isinstance(state, dict) else None
    return isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 2**31 and _process_alive(pid)


def _wrong_key(state: dict[str, Any]) -> str | None:
    """The first key readers need that ``state`` lacks or holds in the wrong shape, or None."""
    for key, kind in _REQUIRED_KEYS.items():
        if not isinstance(state.get(key), kind):
            return key
    if not all(isinstance(state["issuer"].get(part), str) for part in ("issuer", "audience")):
        return "issuer"
    return None


def _check_state(path: Path, state: dict[str, Any], pid: int) -> None:
    if (key := _wrong_key(state)) is not None:
        raise StateFileCorrupt(
            f"{path} is not a local stack's state file ({key!r} is missing or wrong); stop that"
            f" stack (process {pid}) or remove the file"
        )


@dataclass(frozen=True)
class RunningStack:
    """A local stack started by some process, as described by its state file."""

    state: dict[str, Any]
    home: Path

    @classmethod
    def find(cls, home: Path | None = None) -> RunningStack | None:
        """The running stack in ``home``, or None if there is none (or its process has gone).

        A file that cannot be read or parsed, or that names no live process, is no running stack;
        one that names a live process but lacks what readers need is ``StateFileCorrupt``.
        """
        directory = state_home(home)
        path = directory / STATE_FILE_NAME
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not _live_pid(state):
            return None
        _check_state(path, state, state["pid"])
        return cls(state=state, home=directory)

    @property
    def zone_names(self) -> list[str]:
        """The zones this stack runs (``content-service local up`` starts every zone by default)."""
        return list(self.state.get("zones") or [self.state.get("zone", "")])

    def zone(self, name: str | None = None) -> RunningStack:
        """One zone's view (its API, issuer, environment); ``None`` is the first zone, the top level.

        A KeyError names the zones when this stack does not run ``name``.
        """
        if name is None:
            return self
        zones = self.state.get("zones") or {}
        if not isinstance(zones, dict) or name not in zones:
            raise KeyError(f"the local stack runs no zone {name!r}; it runs {', '.join(self.zone_names)}")
        view = zones[name]
        if not isinstance(view, dict):
            view = {}
        _check_state(self.home / STATE_FILE_NAME, view, self.state["pid"])
        return RunningStack(state=dict(view), home=self.home)

    @property
    def api_url(self) -> str:
        """The API base URL (ends with the stage; routes start with /v1)."""
        return str(self.state["api_url"])

    @property
    def endpoint_url(self) -> str:
        """The moto endpoint: AWS_ENDPOINT_URL for every AWS service."""
        return str(self.state["endpoint_url"])

    @property
    def edge_url(self) -> str | None:
        """The local CDN edge's base URL, if the template declares a distribution."""
        value = self.state.get("edge_url")
        return str(value) if value else None

    @property
    def environment(self) -> dict[str, str]:
        """The AWS settings and function environment the stack's handlers run with."""
        return dict(self.state["environment"])

    @property
    def service_clients(self) -> list[str]:
        """The service app clients (their ids) the running stack accepts access tokens from."""
        return list(self.state.get("service_clients", []))

    def mint_token(self, tenant_id: str, user_id: str, ttl: int = 3600, roles: Iterable[str] = ()) -> str:
        """Sign a person's dev ID token the running stack's gateway accepts."""
        return self._issuer().mint_token(tenant_id, user_id, ttl, roles=roles)

    def mint_service_token(
        self, tenant_id: str, client_id: str, roles: Iterable[str], ttl: int = 3600
    ) -> str:
        """Sign a service's dev client-credentials token the running stack accepts."""
        return self._issuer().mint_service_token(tenant_id, client_id, roles, ttl)

    def _issuer(self) -> DevIssuer:
        issuer = self.state["issuer"]
        try:
            return DevIssuer.load(self.home, audience=issuer["audience"], issuer=issuer["issuer"])
        except (ValueError, TypeError, KeyError, JoseError) as error:
            # Not JSON, or JSON that is no RSA key: the stack's key file was altered.
            raise StateFileCorrupt(
                f"the dev issuer key in {self.home} is not a key ({type(error).__name__}: {error});"
                " restart `content-service local up`"
            ) from error
