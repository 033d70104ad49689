"""The emulated account's access control and parameters, as Snowflake documents them.

Pure Python; the SQL engine asks it the session facts ``doctor`` reads:

- ``SYS_CONTEXT('SNOWFLAKE$SESSION', 'IS_DATABASE_ROLE_ACTIVATED', '<role>')``: the VARCHAR
  ``'TRUE'`` or ``'FALSE'``; the name may be fully qualified or relative, a relative name
  resolving in the session's current database;
- ``IS_DATABASE_ROLE_IN_SESSION('<role>')``: a BOOLEAN; the name must be relative (resolved in
  the current database), a fully qualified name evaluates to FALSE;
- ``CURRENT_ROLE()`` and ``CURRENT_SECONDARY_ROLES()`` (a JSON object with ``roles`` and
  ``value``);
- ``SHOW GRANTS ON SCHEMA``, ``SHOW GRANTS ON ACCOUNT`` and ``SHOW PARAMETERS ... IN ACCOUNT``
  with the columns Snowflake's reference pages list.

By default the account is the one Snowflake's documentation describes for a new user: the
database role ``SNOWFLAKE.CORTEX_USER`` and the ``USE AI FUNCTIONS`` privilege are granted to
PUBLIC (so every session has them), cross-region inference is ``DISABLED``, the model
allowlist is ``All``, and the current role owns the schemas it works in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cortex_tune._emulator.errors import invalid_argument

#: SHOW GRANTS ON <object>: the columns of the SHOW GRANTS reference (the ON form adds
#: granted_by_role_type), with their types for the engine.
GRANT_COLUMNS = (
    ("created_on", "TIMESTAMP_LTZ"),
    ("privilege", "VARCHAR"),
    ("granted_on", "VARCHAR"),
    ("name", "VARCHAR"),
    ("granted_to", "VARCHAR"),
    ("grantee_name", "VARCHAR"),
    ("grant_option", "BOOLEAN"),
    ("granted_by_role_type", "VARCHAR"),
    ("granted_by", "VARCHAR"),
)
#: SHOW PARAMETERS: the columns the parameter management page shows.
PARAMETER_COLUMNS = (
    ("key", "VARCHAR"),
    ("value", "VARCHAR"),
    ("default", "VARCHAR"),
    ("level", "VARCHAR"),
    ("description", "VARCHAR"),
)

#: Account parameters the emulator knows: name -> (default, description).
PARAMETERS: dict[str, tuple[str, str]] = {
    "CORTEX_ENABLED_CROSS_REGION": (
        "DISABLED",
        "Regions where Cortex inference may run when the account's region cannot serve it.",
    ),
    "CORTEX_MODELS_ALLOWLIST": ("All", "Models that Cortex features may use in this account."),
}

Shown = tuple[tuple[tuple[str, str], ...], list[tuple[Any, ...]]]

_CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)
_PART = re.compile(r'"(?:[^"]|"")*"|[^."]+')
_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_SHOW_GRANTS_ON_SCHEMA = re.compile(
    rf"\s*SHOW\s+GRANTS\s+ON\s+SCHEMA\s+"
    rf"(?:IDENTIFIER\(\s*(?P<bound>\?)\s*\)|(?P<name>{_IDENT}(?:\.{_IDENT})?))\s*;?\s*",
    re.I,
)
_SHOW_GRANTS_ON_ACCOUNT = re.compile(r"\s*SHOW\s+GRANTS\s+ON\s+ACCOUNT\s*;?\s*", re.I)
_SHOW_PARAMETERS = re.compile(
    r"\s*SHOW\s+PARAMETERS(?:\s+LIKE\s+'(?P<like>(?:[^']|'')*)')?\s+IN\s+ACCOUNT\s*;?\s*", re.I
)


@dataclass(frozen=True)
class Grant:
    """One privilege granted to a role.

    Args:
        privilege: E.g. ``"CREATE MODEL"``, ``"OWNERSHIP"``, ``"USE AI FUNCTIONS"``.
        grantee: The role it is granted to, e.g. ``"ANALYST"``.
        on: For schema grants, the schema as ``DB.SCHEMA``; None means every schema.
        granted_to: ``"ROLE"`` or ``"DATABASE_ROLE"``.
    """

    privilege: str
    grantee: str
    on: str | None = None
    granted_to: str = "ROLE"


@dataclass(frozen=True)
class Account:
    """The emulated account: the session's roles, the grants and the account parameters.

    Args:
        role: What ``CURRENT_ROLE()`` answers.
        secondary_roles: The active secondary roles (``CURRENT_SECONDARY_ROLES()``).
        database_roles: The database roles in the session's active role hierarchy, fully
            qualified (``SNOWFLAKE.CORTEX_USER``).
        schema_grants: Privileges on schemas; None grants OWNERSHIP of every schema to
            ``role``.
        account_grants: Account-level privileges (``SHOW GRANTS ON ACCOUNT``).
        parameters: Account parameters set with ALTER ACCOUNT, e.g.
            ``{"CORTEX_ENABLED_CROSS_REGION": "ANY_REGION"}``; unset ones keep their default.
        name: The account's name, as SHOW GRANTS ON ACCOUNT reports it.

    Example:
        >>> account = Account(role="ANALYST", database_roles=())
        >>> account.is_database_role_activated("SNOWFLAKE.CORTEX_USER", "CORTEX_LOCAL")
        'FALSE'
    """

    role: str = "SYSADMIN"
    secondary_roles: tuple[str, ...] = ()
    database_roles: tuple[str, ...] = ("SNOWFLAKE.CORTEX_USER",)
    schema_grants: tuple[Grant, ...] | None = None
    account_grants: tuple[Grant, ...] = (Grant("USE AI FUNCTIONS", "PUBLIC"),)
    parameters: Mapping[str, str] = field(default_factory=dict)
    name: str = "CORTEX_LOCAL"

    # -- context functions -------------------------------------------------------------------

    def current_role(self) -> str:
        """``CURRENT_ROLE()``."""
        return self.role

    def current_secondary_roles(self) -> str:
        """``CURRENT_SECONDARY_ROLES()``: JSON text with ``roles`` and ``value``."""
        roles = ",".join(self.secondary_roles)
        return json.dumps({"roles": roles, "value": roles}, separators=(",", ":"))

    def is_database_role_activated(self, name: str, database: str | None) -> str:
        """``SYS_CONTEXT('SNOWFLAKE$SESSION', 'IS_DATABASE_ROLE_ACTIVATED', name)``."""
        qualified = _qualify(name, database)
        return "TRUE" if qualified in self._database_roles() else "FALSE"

    def is_database_role_in_session(self, name: str, database: str | None) -> bool:
        """``IS_DATABASE_ROLE_IN_SESSION(name)``: FALSE for a fully qualified name."""
        if len(_parts(name)) != 1:
            return False
        return _qualify(name, database) in self._database_roles()

    def sys_context(self, namespace: str, function: str, argument: str, database: Any) -> str:
        """``SYS_CONTEXT(namespace, function, argument)`` for the functions emulated."""
        if str(namespace).upper() != "SNOWFLAKE$SESSION":
            raise invalid_argument(f"SYS_CONTEXT namespace {namespace!r} is not emulated")
        if str(function).upper() != "IS_DATABASE_ROLE_ACTIVATED":
            raise invalid_argument(f"SYS_CONTEXT function {function!r} is not emulated")
        return self.is_database_role_activated(str(argument), database)

    def _database_roles(self) -> set[tuple[str, ...]]:
        return {_qualify(r, None) for r in self.database_roles}

    # -- SHOW --------------------------------------------------------------------------------

    def show(self, command: str, params: Any, database: str | None) -> Shown | None:
        """The columns and rows of the SHOW statement ``command``, when it is one this account
        answers (SHOW GRANTS ON SCHEMA / ON ACCOUNT, SHOW PARAMETERS ... IN ACCOUNT); None
        for any other statement. ``params`` binds ``IDENTIFIER(?)``."""
        if command.lstrip()[:4].upper() != "SHOW":
            return None
        if match := _SHOW_GRANTS_ON_SCHEMA.fullmatch(command):
            name = str(next(iter(params or ()), "")) if match["bound"] else match["name"]
            return GRANT_COLUMNS, self.grants_on_schema(name, database)
        if _SHOW_GRANTS_ON_ACCOUNT.fullmatch(command):
            return GRANT_COLUMNS, self.grants_on_account()
        if match := _SHOW_PARAMETERS.fullmatch(command):
            like = None if match["like"] is None else match["like"].replace("''", "'")
            return PARAMETER_COLUMNS, self.show_parameters(like)
        return None

    def grants_on_schema(self, schema: str, database: str | None) -> list[tuple[Any, ...]]:
        """The rows of ``SHOW GRANTS ON SCHEMA schema`` (relative to ``database``)."""
        target = _qualify(schema, database)
        if len(target) != 2:
            raise invalid_argument(f"schema {schema!r} needs a database")
        grants = self.schema_grants
        if grants is None:
            grants = (Grant("OWNERSHIP", self.role),)
        label = ".".join(target)
        return [
            _grant_row(g, "SCHEMA", label)
            for g in grants
            if g.on is None or _qualify(g.on, database) == target
        ]

    def grants_on_account(self) -> list[tuple[Any, ...]]:
        """The rows of ``SHOW GRANTS ON ACCOUNT``."""
        return [_grant_row(g, "ACCOUNT", self.name) for g in self.account_grants]

    def show_parameters(self, pattern: str | None) -> list[tuple[Any, ...]]:
        """The rows of ``SHOW PARAMETERS [LIKE pattern] IN ACCOUNT``."""
        matches = _like(pattern) if pattern is not None else None
        rows = []
        names = {**dict.fromkeys(PARAMETERS), **dict.fromkeys(k.upper() for k in self.parameters)}
        set_values = {k.upper(): v for k, v in self.parameters.items()}
        for key in sorted(names):
            if matches is not None and not matches.fullmatch(key):
                continue
            default, description = PARAMETERS.get(key, ("", ""))
            value = set_values.get(key, default)
            level = "ACCOUNT" if key in set_values else ""
            rows.append((key, value, default, level, description))
        return rows


def _grant_row(grant: Grant, kind: str, name: str) -> tuple[Any, ...]:
    # Grants made at provisioning show an empty granted_by (the SYSTEM role).
    by = "" if grant.grantee == "PUBLIC" else "ACCOUNTADMIN"
    by_type = "" if not by else "ROLE"
    return (
        _CREATED,
        grant.privilege,
        kind,
        name,
        grant.granted_to,
        grant.grantee,
        False,
        by_type,
        by,
    )


def _parts(name: str) -> list[str]:
    return [p for p in _PART.findall(name.strip()) if p]


def _qualify(name: str, database: str | None) -> tuple[str, ...]:
    """``name`` as Snowflake resolves it: unquoted parts upper-cased, a relative name placed in
    ``database`` (when there is one)."""
    parts = [p[1:-1].replace('""', '"') if p.startswith('"') else p.upper() for p in _parts(name)]
    if len(parts) == 1 and database:
        parts.insert(0, str(database))
    return tuple(parts)


def _like(pattern: str) -> re.Pattern[str]:
    """A LIKE pattern (% and _ wildcards, case-insensitive) as a regular expression."""
    body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern.upper())
    return re.compile(body, re.S)
