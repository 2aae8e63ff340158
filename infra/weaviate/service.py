"""Weaviate built from its Go module (no Docker image here), vectors brought by us."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import httpx

from infra.service import Service, StackError

MODULE = "github.com/weaviate/weaviate"
# Source files whose listener address is `fmt.Sprintf(":%d", port)`: every interface.
LOOPBACK_PATCHES = (
    "adapters/handlers/grpc/server.go",
    "adapters/handlers/rest/clusterapi/grpc/server.go",
    "adapters/handlers/rest/clusterapi/serve.go",
)
UNBOUND_LISTENER = 'fmt.Sprintf(":%d",'
LOOPBACK_LISTENER = 'fmt.Sprintf("127.0.0.1:%d",'


class Weaviate(Service):
    name = "weaviate"

    @property
    def binary(self) -> Path:
        return self.cache / "bin" / "weaviate-server"

    def ports(self) -> dict[str, int]:
        s = self.settings
        return {
            "http": s.weaviate_port,
            "grpc": s.weaviate_grpc_port,
            "gossip": s.weaviate_gossip_port,
            "data": s.weaviate_data_port,
            "raft": s.weaviate_raft_port,
            "raft-rpc": s.weaviate_raft_rpc_port,
        }

    def install(self) -> None:
        """Build from the module proxy's source; long on 2 cores, so the binary is cached.

        Three listeners (client gRPC, cluster gRPC and cluster HTTP) bind every interface in the
        released source with no option to change it; the build pins them to loopback
        (docs/adr/0002-weaviate-from-source-with-loopback-listeners.md).
        """
        if self.binary.exists():
            return
        if not shutil.which("go"):
            raise StackError("weaviate: the Go toolchain is needed to build weaviate-server")
        env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false -mod=readonly"}
        with tempfile.TemporaryDirectory() as scratch:
            fetched = _run(["go", "mod", "download", "-json", f"{MODULE}@v{self.version}"],
                           env=env, cwd=scratch)
            source = Path(scratch) / "src"
            shutil.copytree(json.loads(fetched)["Dir"], source)
            for relative in LOOPBACK_PATCHES:
                _pin_listener_to_loopback(source / relative)
            built = Path(scratch) / "weaviate-server"
            _run(["go", "build", "-o", str(built), "./cmd/weaviate-server"], env=env, cwd=source)
            self.binary.parent.mkdir(parents=True, exist_ok=True)
            # Move last, so an interrupted build never leaves a half-written binary in the cache.
            shutil.move(built, self.binary)

    def prepare(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        return [str(self.binary), "--host", self.settings.host,
                "--port", str(self.settings.weaviate_port), "--scheme", "http"]

    def environment(self) -> dict[str, str]:
        s = self.settings
        return {
            "PERSISTENCE_DATA_PATH": str(self.data),
            "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "true",
            "DEFAULT_VECTORIZER_MODULE": "none",
            "ENABLE_MODULES": "",
            "DISABLE_TELEMETRY": "true",
            "QUERY_DEFAULTS_LIMIT": "25",
            "CLUSTER_HOSTNAME": "node1",
            "CLUSTER_IN_LOCALHOST": "true",
            "CLUSTER_BIND_ADDR": s.host,
            "CLUSTER_ADVERTISE_ADDR": s.host,
            "CLUSTER_GOSSIP_BIND_PORT": str(s.weaviate_gossip_port),
            "CLUSTER_DATA_BIND_PORT": str(s.weaviate_data_port),
            "RAFT_PORT": str(s.weaviate_raft_port),
            "RAFT_INTERNAL_RPC_PORT": str(s.weaviate_raft_rpc_port),
            "RAFT_BOOTSTRAP_EXPECT": "1",
            "RAFT_JOIN": f"node1:{s.weaviate_raft_port}",
            "GRPC_PORT": str(s.weaviate_grpc_port),
            "GOMEMLIMIT": "1GiB",
            "LIMIT_RESOURCES": "true",
            "GO_PROFILING_DISABLE": "true",
        }

    def healthy(self) -> bool:
        ready = httpx.get(f"{self.settings.weaviate_url}/v1/.well-known/ready", timeout=2)
        return ready.status_code == 200


def _run(argv: list[str], env: dict[str, str], cwd: str | Path) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"weaviate: {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def _pin_listener_to_loopback(path: Path) -> None:
    path.chmod(0o644)  # the module cache is read-only
    text = path.read_text()
    if UNBOUND_LISTENER not in text:
        raise StackError(f"weaviate: expected listener not found in {path.name}; review the patch")
    path.write_text(text.replace(UNBOUND_LISTENER, LOOPBACK_LISTENER))
