"""The emulated site's user accounts: names, passwords, permission, blocked flag.

Users file (YAML or JSON), for ``orchestration-operator emulator --users FILE``::

    users:
      - name: platform
        password: s3cret
        permissions: ["use orchestration connect"]   # default; [] for a user without it
        blocked: false
        roles: [authenticated, orchestration]        # optional, reported by /user/login

``DEMO_USERS`` are for local trials and tests only: ``admin``/``admin`` (has the permission),
``editor``/``editor`` (lacks it) and ``blocked``/``blocked`` (a blocked account).
"""

from __future__ import annotations

import hmac
import json
import pathlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from orchestration_operator.testing.drupal import catalog, errors

PERMISSION = "use orchestration connect"


@dataclass(frozen=True)
class User:
    """A Drupal account. ``uid`` is assigned by the emulator when 0."""

    name: str
    password: str = field(repr=False)
    permissions: frozenset[str] = frozenset({PERMISSION})
    blocked: bool = False
    roles: tuple[str, ...] = ("authenticated",)
    uid: int = 0

    @property
    def can_connect(self) -> bool:
        return PERMISSION in self.permissions

    def password_matches(self, password: str) -> bool:
        return hmac.compare_digest(self.password.encode(), password.encode())

    @classmethod
    def from_data(cls, data: object) -> User:
        if not isinstance(data, Mapping):
            raise errors.UsersError(f"a user is a mapping, not {type(data).__name__}")
        name, password = data.get("name"), data.get("password")
        if not isinstance(name, str) or not name or not isinstance(password, str):
            raise errors.UsersError("every user needs a string 'name' and 'password'")
        unknown = set(data) - {"name", "password", "permissions", "blocked", "roles", "uid"}
        if unknown:
            raise errors.UsersError(f"user {name!r}: unknown fields {sorted(unknown)}")
        permissions = data.get("permissions", [PERMISSION])
        roles = data.get("roles", ["authenticated"])
        if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
            raise errors.UsersError(f"user {name!r}: 'permissions' must be a list of strings")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise errors.UsersError(f"user {name!r}: 'roles' must be a list of strings")
        return cls(
            name=name,
            password=password,
            permissions=frozenset(permissions),
            blocked=bool(data.get("blocked", False)),
            roles=tuple(roles),
            uid=int(data.get("uid", 0)),
        )

    def to_data(self) -> dict[str, Any]:
        """The account without its password (for the control API)."""
        return {
            "name": self.name,
            "uid": self.uid,
            "permissions": sorted(self.permissions),
            "blocked": self.blocked,
            "roles": list(self.roles),
        }


DEMO_ADMIN = User("admin", "admin", roles=("authenticated", "administrator"))
DEMO_EDITOR = User("editor", "editor", permissions=frozenset(), roles=("authenticated", "editor"))
DEMO_BLOCKED = User("blocked", "blocked", blocked=True)
DEMO_USERS: tuple[User, ...] = (DEMO_ADMIN, DEMO_EDITOR, DEMO_BLOCKED)


def load_users(path: str | pathlib.Path) -> list[User]:
    """Read users from a YAML or JSON file: ``{"users": [...]}`` or a bare list."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.UsersError(f"cannot read users file {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else catalog.load_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.UsersError(f"users file {path} is not valid YAML or JSON") from exc
    if isinstance(data, Mapping):
        data = data.get("users")
    if not isinstance(data, list):
        raise errors.UsersError(f"users file {path}: expected a list of users (or {{users: [...]}})")
    return [User.from_data(item) for item in data]


def numbered(users: Iterable[User]) -> dict[str, User]:
    """Index users by name, giving uids (from 1, skipping taken ones) to those without one."""
    result: dict[str, User] = {}
    taken = {user.uid for user in users if user.uid}
    next_uid = 1
    for user in users:
        if user.name in result:
            raise errors.UsersError(f"user {user.name!r} is declared twice")
        if not user.uid:
            while next_uid in taken:
                next_uid += 1
            taken.add(next_uid)
            user = User(user.name, user.password, user.permissions, user.blocked, user.roles, next_uid)
        result[user.name] = user
    return result
