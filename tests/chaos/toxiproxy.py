"""A small client of Toxiproxy's HTTP API: proxies between a process and a service, toxics."""

from __future__ import annotations

from typing import Any

import httpx


class Toxiproxy:
    def __init__(self, host: str, port: int) -> None:
        self.http = httpx.Client(base_url=f"http://{host}:{port}", timeout=10)

    def proxy(self, name: str, listen: str, upstream: str) -> None:
        """Create the proxy afresh (enabled, no toxics)."""
        self.http.delete(f"/proxies/{name}")
        reply = self.http.post("/proxies", json={"name": name, "listen": listen,
                                                 "upstream": upstream, "enabled": True})
        reply.raise_for_status()

    def toxic(self, proxy: str, kind: str, stream: str = "downstream",
              **attributes: Any) -> str:
        name = f"{kind}_{stream}"
        reply = self.http.post(f"/proxies/{proxy}/toxics", json={
            "name": name, "type": kind, "stream": stream, "toxicity": 1.0,
            "attributes": attributes})
        reply.raise_for_status()
        return name

    def clear(self, proxy: str) -> None:
        for toxic in self.http.get(f"/proxies/{proxy}/toxics").json():
            self.http.delete(f"/proxies/{proxy}/toxics/{toxic['name']}")
        self.enable(proxy, True)

    def enable(self, proxy: str, enabled: bool) -> None:
        """Disabled: every connection through it is cut and refused (a partition)."""
        current = self.http.get(f"/proxies/{proxy}").json()
        reply = self.http.post(f"/proxies/{proxy}", json={**current, "enabled": enabled})
        reply.raise_for_status()

    def delete(self, proxy: str) -> None:
        self.http.delete(f"/proxies/{proxy}")
