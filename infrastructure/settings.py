"""Configuration from the environment (12-factor), read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


def _optional_number(name: str, environ: dict[str, str]) -> float | None:
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not 0 <= value < 1e15:
        raise SettingsError(f"{name} must be zero or more, not {raw!r}")
    return value


def _int(name: str, default: int, environ: dict[str, str]) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None


MASTER_KEY_FILE = "master-key"  # in the data directory: `chronicle up`'s development key


def _master_key(environ: dict[str, str], data_dir: Path) -> str | None:
    """``CHRONICLE_MASTER_KEY``, else the development key `chronicle up` made in the data
    directory, else ``None``."""
    if key := (environ.get("CHRONICLE_MASTER_KEY") or "").strip():
        return key
    try:
        return (data_dir / MASTER_KEY_FILE).read_text().strip() or None
    except OSError:
        return None


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("json", "console")


def _choice(name: str, choices: tuple[str, ...], environ: dict[str, str]) -> str | None:
    """One of ``choices`` (case-insensitive), or ``None`` when unset."""
    raw = environ.get(name)
    if raw is None or raw == "":
        return None
    if raw.strip().lower() not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw.strip().lower()


def _flag(name: str, environ: dict[str, str]) -> bool:
    """``1``, ``true``, ``yes`` or ``on`` (any case) is set; unset or empty is not."""
    raw = (environ.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise SettingsError(f"{name} must be 1 or 0, not {raw!r}")


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Settings:
    """Every knob of Chronicle; URLs left empty mean "start an embedded server"."""

    database_url: str | None = None
    nats_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".chronicle")
    host: str = "127.0.0.1"
    port: int = 8000
    api_workers: int = 1  # API processes of `chronicle serve`, sharing the port
    db_pool_size: int = 8
    db_max_overflow: int = 16
    max_body_bytes: int = 1024 * 1024
    live_buffer: int = 1000
    live_max_per_tenant: int = 20_000  # concurrent live connections; 0 is no cap
    live_max_per_key: int = 10_000
    live_max_per_user: int = 20
    live_frames_per_second: int = 20  # inbound WebSocket frames a connection may send
    rate_limit_per_minute: int = 6000
    auth_cache_seconds: float = 1.0  # a revocation also reaches every process over NATS
    daily_token_budget: int | None = None  # per tenant, unless the tenant sets its own
    daily_cost_budget_usd: float | None = None
    metrics_minute_days: int = 7  # how long minute buckets of the metrics history are kept
    metrics_hour_days: int = 90  # and hour buckets (and the commands and runs they count)
    alert_interval_s: float = 15.0  # how often the alert evaluator evaluates every rule
    sample_interval_s: float = 15.0  # how often operational samples are taken
    log_level: str = "info"  # one of LOG_LEVELS
    log_format: str | None = None  # one of LOG_FORMATS; unset: console on a terminal, else json
    webhooks_allow_private: bool = False  # deliver to loopback and private addresses
    webhook_timeout_s: float = 10.0  # one delivery attempt, all of it
    webhook_max_attempts: int = 8  # then the delivery is dead-lettered
    webhook_backoff_s: float = 1.0  # the first retry's delay; doubling up to 10 min
    webhook_disable_after: int = 5  # dead letters in a row that disable a webhook
    webhook_keep_days: int = 30  # a finished delivery, then it is deleted
    retention_sweep_s: float = 300.0  # how often tenants' retention erases what is past it
    # Wraps the data subjects' keys (base64 of 32 bytes); required by every process that
    # writes or reads events.
    master_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        port = _int("CHRONICLE_PORT", 8000, env)
        if not 0 <= port <= 65535:
            raise SettingsError(f"CHRONICLE_PORT must be 0 to 65535, not {port}")
        api_workers = _int("CHRONICLE_API_WORKERS", 1, env)
        if api_workers < 1:
            raise SettingsError(f"CHRONICLE_API_WORKERS must be 1 or more, not {api_workers}")
        minute_days = _int("CHRONICLE_METRICS_MINUTE_DAYS", 7, env)
        hour_days = _int("CHRONICLE_METRICS_HOUR_DAYS", 90, env)
        if not 1 <= minute_days <= hour_days:
            raise SettingsError(
                "CHRONICLE_METRICS_MINUTE_DAYS must be 1 or more and at most"
                f" CHRONICLE_METRICS_HOUR_DAYS, not {minute_days} and {hour_days}"
            )
        alert_interval_s = _or(_optional_number("CHRONICLE_ALERT_INTERVAL_S", env), 15.0)
        if not 0 < alert_interval_s <= 3600:
            raise SettingsError(
                "CHRONICLE_ALERT_INTERVAL_S must be above 0 and at most 3600,"
                f" not {alert_interval_s}"
            )
        sample_interval_s = _or(_optional_number("CHRONICLE_SAMPLE_INTERVAL_S", env), 15.0)
        if not 0 < sample_interval_s <= 3600:
            raise SettingsError(
                "CHRONICLE_SAMPLE_INTERVAL_S must be above 0 and at most 3600,"
                f" not {sample_interval_s}"
            )
        retention_sweep_s = _or(_optional_number("CHRONICLE_RETENTION_SWEEP_S", env), 300.0)
        if not 0 < retention_sweep_s <= 86_400:
            raise SettingsError(
                "CHRONICLE_RETENTION_SWEEP_S must be above 0 and at most 86400,"
                f" not {retention_sweep_s}"
            )
        data_dir = Path(env.get("CHRONICLE_DATA_DIR") or ".chronicle")
        return cls(
            database_url=env.get("CHRONICLE_DATABASE_URL") or None,
            nats_url=env.get("CHRONICLE_NATS_URL") or None,
            redis_url=env.get("CHRONICLE_REDIS_URL") or None,
            data_dir=data_dir,
            host=env.get("CHRONICLE_HOST") or "127.0.0.1",
            port=port,
            api_workers=api_workers,
            db_pool_size=_int("CHRONICLE_DB_POOL_SIZE", 8, env),
            db_max_overflow=_int("CHRONICLE_DB_MAX_OVERFLOW", 16, env),
            live_buffer=_int("CHRONICLE_LIVE_BUFFER", 1000, env),
            live_max_per_tenant=_int("CHRONICLE_LIVE_MAX_PER_TENANT", 20_000, env),
            live_max_per_key=_int("CHRONICLE_LIVE_MAX_PER_KEY", 10_000, env),
            live_max_per_user=_int("CHRONICLE_LIVE_MAX_PER_USER", 20, env),
            live_frames_per_second=_int("CHRONICLE_LIVE_FRAMES_PER_SECOND", 20, env),
            rate_limit_per_minute=_int("CHRONICLE_RATE_LIMIT_PER_MINUTE", 6000, env),
            auth_cache_seconds=_or(_optional_number("CHRONICLE_AUTH_CACHE_SECONDS", env), 1.0),
            daily_token_budget=_whole(_optional_number("CHRONICLE_DAILY_TOKEN_BUDGET", env)),
            daily_cost_budget_usd=_optional_number("CHRONICLE_DAILY_COST_BUDGET_USD", env),
            metrics_minute_days=minute_days,
            metrics_hour_days=hour_days,
            alert_interval_s=alert_interval_s,
            sample_interval_s=sample_interval_s,
            log_level=_choice("CHRONICLE_LOG_LEVEL", LOG_LEVELS, env) or "info",
            log_format=_choice("CHRONICLE_LOG_FORMAT", LOG_FORMATS, env),
            webhooks_allow_private=_flag("CHRONICLE_WEBHOOKS_ALLOW_PRIVATE", env),
            webhook_timeout_s=_or(_optional_number("CHRONICLE_WEBHOOK_TIMEOUT_S", env), 10.0),
            webhook_max_attempts=max(1, _int("CHRONICLE_WEBHOOK_MAX_ATTEMPTS", 8, env)),
            webhook_backoff_s=_or(_optional_number("CHRONICLE_WEBHOOK_BACKOFF_S", env), 1.0),
            webhook_disable_after=max(1, _int("CHRONICLE_WEBHOOK_DISABLE_AFTER", 5, env)),
            webhook_keep_days=max(1, _int("CHRONICLE_WEBHOOK_KEEP_DAYS", 30, env)),
            retention_sweep_s=retention_sweep_s,
            master_key=_master_key(env, data_dir),
        )

    def with_urls(self, database_url: str, nats_url: str, redis_url: str) -> Settings:
        return replace(self, database_url=database_url, nats_url=nats_url, redis_url=redis_url)

    def url_environment(self) -> dict[str, str]:
        """The servers' URLs as the environment variables that name them."""
        named = {
            "CHRONICLE_DATABASE_URL": self.database_url,
            "CHRONICLE_NATS_URL": self.nats_url,
            "CHRONICLE_REDIS_URL": self.redis_url,
        }
        return {name: url for name, url in named.items() if url}

    def process_environment(self) -> dict[str, str]:
        """What a child process needs to work on the same data: the servers' URLs and
        the master key."""
        key = {"CHRONICLE_MASTER_KEY": self.master_key} if self.master_key else {}
        return self.url_environment() | key

    @property
    def worker_threads(self) -> int:
        """Threads that may call the (synchronous) event store at once."""
        return self.db_pool_size + self.db_max_overflow
