"""Where Cortex's REST API is and how to authenticate to it, from the connection settings.

The same settings that open a SQL connection (connections.toml, keyword arguments) name the
account and the credential. REST takes a programmatic access token, an OAuth token, or a
JSON Web Token that cortex-tune signs with the user's key pair; a password, SSO or MFA
login cannot be used without a session, so those connections report what is missing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cortex_tune._core.errors import ConfigurationError

#: The Chat Completions API lives under this path of the account URL.
API_PATH = "/api/v2/cortex/v1"
#: Environment variables read when the connection settings do not say.
ENV_TOKEN = "SNOWFLAKE_PAT"
ENV_URL = "CORTEX_TUNE_REST_URL"
#: A key-pair JWT lives at most an hour (Snowflake's limit); cortex-tune signs one for
#: 59 minutes and replaces it 5 minutes before it expires.
JWT_LIFETIME = 59 * 60
JWT_REFRESH_MARGIN = 5 * 60

PAT, KEYPAIR_JWT, OAUTH = "PROGRAMMATIC_ACCESS_TOKEN", "KEYPAIR_JWT", "OAUTH"

_MISSING_HINT = (
    "Give Cortex's REST API a credential: a programmatic access token (connections.toml "
    "authenticator = 'PROGRAMMATIC_ACCESS_TOKEN' and token = '...', or the SNOWFLAKE_PAT "
    "variable), a key pair (authenticator = 'SNOWFLAKE_JWT' with private_key_file), or an OAuth "
    "token (authenticator = 'oauth' with token); and the account (account or host)."
)


class RestCredentialsError(ConfigurationError):
    """Cortex's REST API cannot be used: no account URL or no usable credential.

    Attributes:
        missing: What is missing, in words (one item per missing piece).
    """

    default_hint = _MISSING_HINT

    def __init__(self, message: str, *, missing: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.missing = missing


@dataclass(frozen=True, repr=False)
class RestSettings:
    """The REST endpoint and credential of a client (built by ``Cortex.connect`` / ``rest``).

    Nothing secret appears in its repr. Build one from connection parameters with
    :meth:`from_params`.

    Attributes:
        base_url: ``https://<account>.snowflakecomputing.com/api/v2/cortex/v1``, or None.
        token_type: ``PROGRAMMATIC_ACCESS_TOKEN``, ``KEYPAIR_JWT`` or ``OAUTH``, or None.
        missing: What is missing when the settings are not usable.
        source: Where the settings came from (for messages).
    """

    base_url: str | None = None
    token_type: str | None = None
    token: Callable[[], str] | None = field(default=None, compare=False)
    missing: tuple[str, ...] = ()
    source: str = "the connection settings"
    secrets: tuple[str, ...] = field(default=(), compare=False)

    @property
    def ready(self) -> bool:
        """Whether REST can be used (an account URL and a credential)."""
        return self.base_url is not None and self.token is not None and self.token_type is not None

    def require(self) -> None:
        """Raise :class:`RestCredentialsError` saying what is missing, unless ready."""
        if not self.ready:
            what = "; ".join(self.missing) or "no REST settings were given"
            raise RestCredentialsError(
                f"Cortex's REST API is not configured in {self.source}: {what}",
                missing=self.missing,
            )

    def __repr__(self) -> str:
        state = "ready" if self.ready else f"missing={list(self.missing)!r}"
        return f"RestSettings(base_url={self.base_url!r}, token_type={self.token_type!r}, {state})"

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any],
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> RestSettings:
        """Settings from connector-style parameters (``account``, ``host``, ``token``...).

        A ``connection_name`` is looked up in connections.toml first; the parameters given
        override it. ``SNOWFLAKE_PAT`` supplies a token and ``CORTEX_TUNE_REST_URL`` a base URL
        when the settings have none.
        """
        env = os.environ if environ is None else environ
        merged, source = _merged(params)
        lowered = {str(k).lower(): v for k, v in merged.items() if v is not None and v != ""}
        missing: list[str] = []
        base_url = _base_url(lowered, env)
        if base_url is None:
            missing.append("no account URL (set 'account' or 'host', or CORTEX_TUNE_REST_URL)")
        token_type, token, secrets, why = _credential(lowered, env, clock)
        if token is None:
            missing.append(why)
        return cls(
            base_url=base_url,
            token_type=token_type,
            token=token,
            missing=tuple(missing),
            source=source,
            secrets=tuple(secrets),
        )


def _merged(params: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    name = params.get("connection_name")
    values: dict[str, Any] = {}
    source = "the connection settings"
    if name:
        values.update(_toml_connection(str(name)))
        source = f"connection {name!r}"
    values.update({k: v for k, v in params.items() if k != "connection_name"})
    return values, source


def _toml_connection(name: str) -> dict[str, Any]:
    try:
        from snowflake.connector.config_manager import CONFIG_MANAGER

        connections = CONFIG_MANAGER["connections"]
        found = connections.get(name) if hasattr(connections, "get") else None
    except Exception:  # an unreadable file: the SQL connection reports it in its own words
        return {}
    return dict(found) if isinstance(found, Mapping) else {}


def _base_url(params: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    explicit = params.get("rest_url") or env.get(ENV_URL)
    if explicit:
        return str(explicit).rstrip("/")
    host = params.get("host")
    if not host and params.get("account"):
        # Snowflake's canonical host form uses hyphens where account identifiers have "_".
        host = f"{str(params['account']).replace('_', '-')}.snowflakecomputing.com"
    if not host:
        return None
    protocol = str(params.get("protocol") or "https")
    port = params.get("port")
    netloc = f"{host}:{port}" if port and str(port) not in ("443", "") else str(host)
    return f"{protocol}://{netloc}{API_PATH}"


def _credential(
    params: Mapping[str, Any], env: Mapping[str, str], clock: Callable[[], float]
) -> tuple[str | None, Callable[[], str] | None, list[str], str]:
    """(token type, token provider, secrets, why none) for the settings."""
    authenticator = str(params.get("authenticator") or "").upper()
    token = params.get("token")
    if token and authenticator in ("PROGRAMMATIC_ACCESS_TOKEN", ""):
        return PAT, _static(str(token)), [str(token)], ""
    if token and authenticator == "OAUTH":
        return OAUTH, _static(str(token)), [str(token)], ""
    if (
        authenticator == "SNOWFLAKE_JWT"
        or params.get("private_key")
        or params.get("private_key_file")
    ):
        return _key_pair(params, clock)
    if env.get(ENV_TOKEN):
        secret = env[ENV_TOKEN]
        return PAT, _static(secret), [secret], ""
    used = authenticator.lower() or "a password"
    return (
        None,
        None,
        [],
        f"no REST credential (the connection logs in with {used}, which REST cannot use; "
        f"no token, key pair or {ENV_TOKEN} was found)",
    )


def _static(value: str) -> Callable[[], str]:
    return lambda: value


def _key_pair(
    params: Mapping[str, Any], clock: Callable[[], float]
) -> tuple[str | None, Callable[[], str] | None, list[str], str]:
    account, user = params.get("account"), params.get("user")
    if not account and params.get("host"):
        account = str(params["host"]).split(".")[0]
    if not account or not user:
        return None, None, [], "a key pair needs both 'account' and 'user' to sign a JWT"
    password = params.get("private_key_file_pwd") or params.get("private_key_pwd")
    secrets = [str(password)] if password else []
    try:
        key = _load_key(params, password)
    except (OSError, ValueError, TypeError) as exc:
        reason = "the private key could not be read or decrypted"
        if isinstance(exc, OSError):
            reason = "the private key file could not be read"
        return None, None, secrets, f"{reason} ({type(exc).__name__})"
    if key is None:
        return None, None, secrets, "authenticator SNOWFLAKE_JWT needs private_key_file"
    return KEYPAIR_JWT, KeyPairToken(str(account), str(user), key, clock=clock), secrets, ""


def _load_key(params: Mapping[str, Any], password: Any) -> Any:
    from cryptography.hazmat.primitives import serialization

    raw = params.get("private_key")
    if raw is not None and not isinstance(raw, (str, bytes)):
        return raw  # an already loaded key object
    if raw is None and params.get("private_key_file"):
        raw = Path(str(params["private_key_file"])).expanduser().read_bytes()
    if raw is None:
        return None
    data = raw.encode() if isinstance(raw, str) else raw
    secret = password.encode() if isinstance(password, str) else password
    if data.lstrip().startswith(b"-----"):
        return serialization.load_pem_private_key(data, password=secret)
    try:
        return serialization.load_der_private_key(data, password=secret)
    except ValueError:
        return serialization.load_der_private_key(base64.b64decode(data), password=secret)


class KeyPairToken:
    """A JWT signed with the user's private key, as Snowflake's REST APIs take it.

    Claims: ``iss = <ACCOUNT>.<USER>.SHA256:<public key fingerprint>``, ``sub =
    <ACCOUNT>.<USER>``, ``iat`` and ``exp`` (59 minutes later). Calling the object returns a
    token valid for at least 5 more minutes, signing a new one when needed; thread-safe.
    """

    def __init__(
        self,
        account: str,
        user: str,
        private_key: Any,
        *,
        clock: Callable[[], float] = time.time,
        lifetime: float = JWT_LIFETIME,
        margin: float = JWT_REFRESH_MARGIN,
    ) -> None:
        # The account locator's region part is not part of the identifier in the claims.
        self.account = account.split(".")[0].upper()
        self.user = user.upper()
        self.fingerprint = public_key_fingerprint(private_key)
        self._key = private_key
        self._clock, self._lifetime, self._margin = clock, lifetime, margin
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyPairToken(account={self.account!r}, user={self.user!r})"

    def __call__(self) -> str:
        with self._lock:
            now = self._clock()
            if self._token is None or now >= self._expires - self._margin:
                self._token, self._expires = self._sign(now), now + self._lifetime
            return self._token

    def _sign(self, now: float) -> str:
        import jwt

        subject = f"{self.account}.{self.user}"
        claims = {
            "iss": f"{subject}.{self.fingerprint}",
            "sub": subject,
            "iat": int(now),
            "exp": int(now + self._lifetime),
        }
        return str(jwt.encode(claims, self._key, algorithm="RS256"))


def public_key_fingerprint(private_key: Any) -> str:
    """``SHA256:<base64 of the SHA-256 of the public key's DER>``, as DESCRIBE USER shows it."""
    from cryptography.hazmat.primitives import serialization

    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()
