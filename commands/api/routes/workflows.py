"""Operators' hold on the platform's process managers: ending a publishing run that is stuck."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter

from commands import messages as m
from commands.api.execution import Commands
from commands.api.models import CancelBody, Written

router = APIRouter(prefix="/workflows", tags=["workflows"])


class WorkflowCancelled(Written):
    workflow_id: UUID
    state: Literal["FAILED"] = "FAILED"


@router.post("/{workflow_id}/cancel", response_model=WorkflowCancelled, responses={
    403: {"description": "admins only"},
    404: {"description": "no such workflow"},
    409: {"description": "workflow.not_running: the run has ended already"}})
async def cancel_workflow(workflow_id: UUID, body: CancelBody, commands: Commands):
    """End a publishing run (admins): it fails with the reason, the course goes back to DRAFT
    (publish again to retry), and a worker still carrying the run stops at its next step."""
    return await commands.run(m.CancelWorkflow(workflow_id, body.reason),
                              lambda r: {"workflow_id": str(workflow_id), "state": "FAILED"})
