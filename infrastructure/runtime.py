"""Where a running `chronicle up` says its embedded servers are, and the lock that makes
it the only one on its data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

from infrastructure.embedded import EmbeddedServers
from infrastructure.settings import MASTER_KEY_FILE, Settings
from infrastructure.subject_keys import new_master_key

RUNTIME_FILE = "servers.json"
LOCK_FILE = "up.lock"


class DataDirBusy(RuntimeError):
    """Another `chronicle up` holds this data directory."""


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data directory exclusively, or raise `DataDirBusy` at once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = (data_dir / LOCK_FILE).open("a")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirBusy(f"another Chronicle is running on {data_dir}") from None
        yield
    finally:
        handle.close()


def ensure_dev_master_key(settings: Settings) -> Settings:
    """The settings with a master key: the environment's, else a development one made
    once in the data directory (which must then be kept with the database)."""
    if settings.master_key:
        return settings
    path = settings.data_dir / MASTER_KEY_FILE
    if not path.exists():
        path.touch(0o600)
        path.write_text(new_master_key() + "\n")
    return replace(settings, master_key=path.read_text().strip())


def write_runtime(settings: Settings) -> None:
    path = settings.data_dir / RUNTIME_FILE
    body = {
        "pid": os.getpid(),
        "database_url": settings.database_url,
        "nats_url": settings.nats_url,
        "redis_url": settings.redis_url,
        "api_url": f"http://{settings.host}:{settings.port}",
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=2))
    tmp.replace(path)


def remove_runtime(data_dir: Path) -> None:
    (data_dir / RUNTIME_FILE).unlink(missing_ok=True)


def read_runtime(data_dir: Path) -> dict[str, str] | None:
    """The URLs of a live `chronicle up` on this data directory, if there is one."""
    path = data_dir / RUNTIME_FILE
    try:
        body = json.loads(path.read_text())
        os.kill(int(body["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {k: str(v) for k, v in body.items() if v is not None}


@contextlib.contextmanager
def servers_for(settings: Settings, *, need_bus: bool = False) -> Iterator[Settings]:
    """Settings with every URL filled in: from the environment, else from a running
    `chronicle up` in the same data directory, else embedded servers started for the
    duration of the block.
    """
    urls = {
        "database_url": settings.database_url,
        "nats_url": settings.nats_url,
        "redis_url": settings.redis_url,
    }
    running = read_runtime(settings.data_dir) or {}
    for name, value in urls.items():
        if value is None and running.get(name):
            urls[name] = running[name]
    missing = [name for name, value in urls.items() if value is None]
    if not need_bus:
        missing = [name for name in missing if name == "database_url"]
    if not missing:
        yield settings.with_urls(
            urls["database_url"] or "", urls["nats_url"] or "", urls["redis_url"] or ""
        )
        return
    with data_dir_lock(settings.data_dir), EmbeddedServers(settings.data_dir).running() as servers:
        if "database_url" in missing:  # the embedded database's key, as `up` makes it
            settings = ensure_dev_master_key(settings)
            urls["database_url"] = servers.postgres().url
        if "nats_url" in missing:
            urls["nats_url"] = servers.nats().url
        if "redis_url" in missing:
            urls["redis_url"] = servers.valkey().url
        yield settings.with_urls(
            urls["database_url"] or "", urls["nats_url"] or "", urls["redis_url"] or ""
        )
