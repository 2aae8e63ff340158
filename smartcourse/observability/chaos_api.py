"""`/admin/chaos` on both APIs (admins only; present only when chaos is enabled)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from commands.api.auth import current_actor
from commands.domain.errors import Forbidden
from commands.messages import Actor
from smartcourse.observability.chaos import DEPENDENCIES, Fault, FaultInjector


class FaultIn(BaseModel):
    delay_ms: float = Field(0, ge=0, le=60_000)
    error_rate: float = Field(0, ge=0, le=1)


class FaultsOut(BaseModel):
    faults: dict[str, FaultIn]


def admin(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    if not actor.is_admin:
        raise Forbidden("fault injection is for admins", "auth.role_required")
    return actor


Admin = Annotated[Actor, Depends(admin)]


def router(faults: FaultInjector) -> APIRouter:
    chaos = APIRouter(prefix="/admin/chaos", tags=["operations"])

    def out() -> FaultsOut:
        return FaultsOut(faults={d: FaultIn(**f.__dict__) for d, f in faults.active().items()})

    @chaos.get("")
    async def list_faults(request: Request, actor: Admin) -> FaultsOut:
        """The faults injected into this process now."""
        return out()

    @chaos.put("/{dependency}")
    async def inject(dependency: str, fault: FaultIn, actor: Admin) -> FaultsOut:
        """Delay and/or fail a share of this process's calls to `dependency`."""
        if dependency not in DEPENDENCIES:
            raise HTTPException(404, f"unknown dependency (known: {', '.join(DEPENDENCIES)})")
        faults.set(dependency, Fault(fault.delay_ms, fault.error_rate))
        return out()

    @chaos.delete("")
    async def clear(actor: Admin) -> FaultsOut:
        """Remove every injected fault."""
        faults.clear()
        return out()

    return chaos
