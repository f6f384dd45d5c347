"""One OpenAPI document merging every service's routes, for /docs and /api/openapi.json."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import orjson

from epv_common.problems import PROBLEM_BASE


class OpenApiMerger:
    def __init__(self, session: aiohttp.ClientSession, urls: dict[str, str], *, ttl_s: float,
                 version: str) -> None:
        self.session = session
        self.urls = urls
        self.ttl_s = ttl_s
        self.version = version
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._lock = asyncio.Lock()

    async def document(self) -> dict[str, Any]:
        async with self._lock:
            if self._cached and time.monotonic() - self._cached[0] < self.ttl_s:
                return self._cached[1]
            specs = await asyncio.gather(*(self._fetch(u) for u in self.urls.values()))
            merged = self.merge(dict(zip(self.urls, specs, strict=True)))
            if all(specs):
                self._cached = (time.monotonic(), merged)
            return merged

    async def _fetch(self, base_url: str) -> dict[str, Any] | None:
        try:
            async with self.session.get(base_url + "/openapi.json",
                                        timeout=aiohttp.ClientTimeout(total=3)) as resp:
                if resp.status != 200:
                    return None
                return orjson.loads(await resp.read())
        except (aiohttp.ClientError, OSError, TimeoutError, orjson.JSONDecodeError):
            return None

    def merge(self, specs: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
        paths: dict[str, Any] = {}
        schemas: dict[str, Any] = {}
        missing = []
        for service, spec in specs.items():
            if spec is None:
                missing.append(service)
                continue
            for path, item in spec.get("paths", {}).items():
                paths.setdefault(path, {}).update(item)
            schemas.update(spec.get("components", {}).get("schemas", {}))
        description = ("One API for EPV Valuation Pro, merged from every service. Errors are "
                       f"RFC 9457 problems; their `type` URIs start with {PROBLEM_BASE}.")
        if missing:
            description += f" Not answering now, so not listed: {', '.join(missing)}."
        return {
            "openapi": "3.1.0",
            "info": {"title": "EPV Valuation Pro API", "version": self.version,
                     "description": description},
            "paths": dict(sorted(paths.items())),
            "components": {
                "schemas": schemas,
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                               "bearerFormat": "JWT"}},
            },
            "security": [{"bearer": []}],
        }
