"""Settings read from the environment (``CGD_BRIDGE_*``); only the CLI and the server read them.

The core never calls :func:`get_settings`: it takes folders and values as arguments, so that
tests and other programs can use it without touching the environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cgd_bridge.places import default_data_dir


class OidcRule(BaseModel):
    """One provisioning rule of :attr:`Settings.oidc_rules` (``store/identities.py``'s ``Rule``).

    Every condition given must hold; the first rule that admits a person who signs in through
    the identity provider, and is not yet a user, makes them a user of ``organisation`` with
    ``role``. Example: ``{"email_domain": "knbs.or.ke", "organisation": "knbs", "role": "reviewer"}``
    or ``{"claim": "groups", "value": "cgd-admins", "organisation": "platform", "role": "admin"}``.
    """

    model_config = {"extra": "forbid"}

    organisation: str
    role: str
    email_domain: str | None = None
    claim: str | None = None
    value: str | None = None


class Settings(BaseSettings):
    """Where cgd-bridge keeps its state.

    Attributes:
        data_dir: the folder for the local structure store (``structures/``) and, later, the
            database; ``CGD_BRIDGE_DATA_DIR=/srv/cgd-bridge``.
        database_url: the bridge server's database; None means the SQLite file
            ``{data_dir}/cgd-bridge.sqlite``;
            ``CGD_BRIDGE_DATABASE_URL=postgresql+psycopg://user@host/cgd_bridge``.
        rate_limit_per_minute: requests a minute one API key (or, without a key, one client
            address) may make to the server; 0 turns the limit off.
        max_upload_mb: the largest upload the server accepts, per file (413 above it).
        max_form_kb: the largest form (urlencoded, or multipart without files) a request may
            send, and the most a web page may receive from someone not signed in.
        max_json_kb: the largest JSON (or other) request body.
        audit_interval_seconds: how long the server lets pull records gather before it commits
            them in one transaction (``server/audit_writer.py``); a process killed hard loses
            at most this much of the pull log (unless ``audit_durable``).
        audit_durable: answer a pull only once its audit records are committed (group commit;
            a database that cannot record it makes the pull a 503).
        db_wait_seconds: the longest a request waits for the database (a lock held by another
            process, every pooled connection in use) before the answer is a 503 with
            ``Retry-After`` (``store/db.py``); ``CGD_BRIDGE_DB_WAIT_SECONDS=5`` (the default).
        answer_cache_mb: memory for rendered small data answers (``server/sdmx/answers.py``);
            0 turns it off.
        job_memory_mb: the memory one upload's job (reading and checking it, in a worker
            process: ``server/jobs.py``) may use beyond the worker's own; above it the answer
            is 413 naming this setting; 0 turns the limit off.
        job_cpu_seconds: the processor time one upload's job may use (413 above it; its wall
            time is three times this plus 10 s); 0 turns the limit off.
        job_workers: the worker processes that check uploads at once (each holds one job).
        job_wait_seconds: how long an upload waits for a free worker before the answer is 503
            with ``Retry-After``.
        web_check_wait_seconds: how long the submit page waits for its check before it sends
            the person to the check's status page (``/checks/{id}``, which refreshes itself
            until the outcome is there); 0 always sends them there.
        secret_key: signs the web pages' session cookies; None means a random secret kept in
            ``{data_dir}/web-secret`` (enough for the workers of one host; set it, the same
            everywhere, when several hosts serve one database); ``CGD_BRIDGE_SECRET_KEY=...``.
        cors_origins: the web origins browser clients may call the SDMX REST API from (CORS,
            ``server/http.py``), comma-separated, or ``*`` for any; empty (the default) sends
            no CORS headers; ``CGD_BRIDGE_CORS_ORIGINS=https://data.example.org``.
        proxy_headers: believe ``X-Forwarded-For`` and ``X-Forwarded-Proto`` (the client's
            address and scheme, for audit rows, rate limits and secure cookies), but only from
            the addresses in :attr:`forwarded_allow_ips`; off by default, when the connection's
            own address and scheme are used (``CGD_BRIDGE_PROXY_HEADERS=true``).
        forwarded_allow_ips: the reverse proxies trusted with those headers, comma-separated
            addresses or networks (``127.0.0.1``, ``10.0.0.0/8``; ``*`` trusts anyone, only when
            nothing but the proxy can reach the server); ``CGD_BRIDGE_FORWARDED_ALLOW_IPS``.
        notify_worker: deliver notifications (webhooks, e-mail) from a background thread of
            every server process (#19, ``server/notify.py``); off when ``cgd-bridge notify run``
            does it from cron instead.
        notify_interval_seconds: how often an idle worker looks for due notifications.
        notify_max_attempts: attempts of one delivery before it is marked failed.
        notify_backoff_seconds: the first retry's pause; each next one doubles (with jitter).
        notify_timeout_seconds: how long one webhook call or SMTP exchange may take.
        webhook_allow_private: let webhooks call loopback and private addresses (a receiver on
            the bridge's own network, tests); off by default (server-side request forgery).
        smtp_host, smtp_port, smtp_security, smtp_username, smtp_password: the mail server
            (``starttls`` on 587 by default, ``ssl`` on 465, ``none`` on 25); no host: no e-mail.
        mail_from: the e-mails' sender, ``CGD_BRIDGE_MAIL_FROM="cgd-bridge <noreply@nso.example>"``.
        public_url: the bridge's address as people reach it (links in e-mails and feeds),
            ``https://data.nso.example/cgd-bridge``.
        notify_keep_days: how long the delivery log keeps delivered and failed notifications
            (pending ones are kept until they end); 0 keeps them for ever.
        digest_hours: how often an opted-in CSO gets the e-mail of who pulled its data; 0 never.
        root_path: the path prefix the bridge is served under behind a proxy that strips it
            (``/cgd-bridge``), so its pages, redirects and links carry it; empty by default;
            ``CGD_BRIDGE_ROOT_PATH=/cgd-bridge``.
        oidc_issuer: the OpenID Connect provider people may sign in with (its issuer URL, whose
            ``/.well-known/openid-configuration`` is read); empty (the default) turns it off;
            ``CGD_BRIDGE_OIDC_ISSUER=https://login.knbs.or.ke/realms/staff``.
        oidc_client_id, oidc_client_secret: the bridge's client at the provider.
        oidc_scopes: the scopes asked for (``openid`` must be one).
        oidc_button_label: the sign-in button's words (the default is translated).
        oidc_match_email: a person whose e-mail address the provider verified signs in as the
            user with that address (then linked by the provider's ``sub``).
        oidc_rules: the provisioning rules (:class:`OidcRule`), a JSON list;
            ``CGD_BRIDGE_OIDC_RULES='[{"email_domain": "knbs.or.ke", "organisation": "knbs",
            "role": "reviewer"}]'``.
        oidc_redirect_url: the callback URL registered at the provider; empty means the bridge's
            own address (as requested) + ``/sign-in/oidc/callback``.
        metrics_allow: the client addresses or networks that may read ``/metrics``
            (``server/metrics.py``), comma-separated; loopback only by default; ``none`` closes
            it to every address (then only :attr:`metrics_token` opens it);
            ``CGD_BRIDGE_METRICS_ALLOW=127.0.0.1,10.1.0.0/16``.
        metrics_token: a bearer token that opens ``/metrics`` from any address (a Prometheus
            outside the allowed networks); none by default; ``CGD_BRIDGE_METRICS_TOKEN=...``.
        log_format: ``text`` (uvicorn's lines, for a terminal; the default) or ``json``: one JSON
            object per line, and one line per request with its request id (``server/observe.py``);
            ``CGD_BRIDGE_LOG_FORMAT=json`` or ``serve --log-format json``.
    """

    model_config = SettingsConfigDict(env_prefix="CGD_BRIDGE_", extra="ignore", env_ignore_empty=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    rate_limit_per_minute: int = Field(default=600, ge=0)
    max_upload_mb: int = Field(default=200, ge=1)
    max_form_kb: int = Field(default=1024, ge=1)
    max_json_kb: int = Field(default=1024, ge=1)
    audit_interval_seconds: float = Field(default=0.05, ge=0.0, le=5.0)
    audit_durable: bool = False
    answer_cache_mb: int = Field(default=64, ge=0)
    job_memory_mb: int = Field(default=4096, ge=0)
    job_cpu_seconds: int = Field(default=300, ge=0)
    job_workers: int = Field(default=2, ge=1, le=64)
    job_wait_seconds: float = Field(default=30.0, ge=0.0)
    web_check_wait_seconds: float = Field(default=20.0, ge=0.0, le=600.0)
    db_wait_seconds: float = Field(default=5.0, gt=0.0, le=60.0)
    secret_key: SecretStr | None = None
    cors_origins: str = ""
    proxy_headers: bool = False
    forwarded_allow_ips: str = "127.0.0.1"
    root_path: str = ""
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    oidc_button_label: str = ""
    oidc_match_email: bool = True
    oidc_rules: list[OidcRule] = Field(default_factory=list)
    oidc_redirect_url: str = ""
    metrics_allow: str = "127.0.0.1,::1"
    metrics_token: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"

    @field_validator("metrics_allow")
    @classmethod
    def _metrics_allow(cls, value: str) -> str:
        """Addresses or networks, comma-separated; ``none`` for none."""
        import ipaddress

        value = value.strip()
        if value.lower() == "none":
            return ""
        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"{part.strip()!r} is not an address or network (such as 127.0.0.1 or 10.0.0.0/8)"
                    ) from None
        return value

    notify_worker: bool = True
    notify_interval_seconds: float = Field(default=2.0, gt=0.0, le=3600.0)
    notify_max_attempts: int = Field(default=8, ge=1, le=100)
    notify_backoff_seconds: float = Field(default=30.0, ge=0.0)
    notify_timeout_seconds: float = Field(default=10.0, gt=0.0, le=300.0)
    webhook_allow_private: bool = False
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    mail_from: str = "cgd-bridge <noreply@localhost>"
    public_url: str = ""
    digest_hours: float = Field(default=24.0, ge=0.0)
    notify_keep_days: float = Field(default=90.0, ge=0.0)

    @field_validator("root_path")
    @classmethod
    def _root_path(cls, value: str) -> str:
        """``""`` or ``/prefix`` without a trailing slash (``cgd-bridge/`` becomes ``/cgd-bridge``)."""
        value = value.strip().strip("/")
        if any(c in value for c in "?#% ") or "//" in value:
            raise ValueError(f"the root path {value!r} must be a plain path such as /cgd-bridge")
        return f"/{value}" if value else ""

    @field_validator("oidc_issuer")
    @classmethod
    def _oidc_issuer(cls, value: str) -> str:
        """An http(s) URL without a trailing slash, or empty."""
        value = value.strip().rstrip("/")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"the OpenID Connect issuer {value!r} must be an https:// URL")
        return value

    @property
    def oidc_enabled(self) -> bool:
        """True when sign-in through the identity provider is configured."""
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def cors_origin_list(self) -> list[str]:
        """:attr:`cors_origins` as a list (empty: CORS off)."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def structures_dir(self) -> Path:
        """The local structure store: ``{data_dir}/structures``."""
        return self.data_dir.expanduser() / "structures"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
