"""Thin tasks: load rows by id, call the domain code or workers.ml, report on the row."""

from __future__ import annotations

import os
import socket
from typing import Any

from celery import Task

from app import task_names
from app.background.owners import Claim
from app.imports import jobs
from app.projects.models import Project
from app.training import service
from app.training.models import TrainingRun
from workers.celery_app import celery_app
from workers.context import worker_context
from workers.embedding import embed_missing
from workers.embedding_map import update_map
from workers.node import owner_of
from workers.saliency import make_map
from workers.scoring import score_project, strategies_to_score
from workers.training import run_training


def _import_context() -> jobs.JobContext:
    # The imports' view of the process's one context: the same engine as every task.
    ctx = worker_context()
    return jobs.JobContext(ctx.settings, ctx.sessions, _send_chunk, celery_app)


def _send_chunk(batch_id: int, start: int, stop: int) -> None:
    import_chunk.apply_async(
        args=(batch_id, start, stop), queue=task_names.QUEUE_OF[task_names.IMPORT_CHUNK]
    )


@celery_app.task(name=task_names.PING)
def ping(payload: str = "ping") -> dict[str, str | int]:
    """Round trip check: proves a worker is consuming and can answer."""
    return {
        "reply": "pong",
        "payload": payload,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }


@celery_app.task(name=task_names.IMPORT_PLAN, bind=True, ignore_result=True)
def import_plan(self: Task[Any, Any], batch_id: int) -> None:
    ctx = _import_context()
    try:
        jobs.plan(ctx, batch_id, owner_of(self.request.hostname), self.request.id)
    except Exception as exc:
        jobs.fail(ctx, batch_id, jobs.describe(exc))
        raise


@celery_app.task(name=task_names.IMPORT_CHUNK, bind=True, ignore_result=True)
def import_chunk(self: Task[Any, Any], batch_id: int, start: int, stop: int) -> None:
    ctx = _import_context()
    try:
        jobs.chunk(ctx, batch_id, start, stop, owner_of(self.request.hostname))
    except Exception as exc:
        jobs.fail(ctx, batch_id, jobs.describe(exc))
        raise


@celery_app.task(name=task_names.TRAIN, bind=True, ignore_result=True, max_retries=None)
def train(self: Task[Any, Any], run_id: int) -> None:
    ctx = worker_context()
    claimed = run_training(ctx, run_id, owner_of(self.request.hostname), self.request.id)
    if claimed is Claim.busy:
        # Delivered again while its owner still runs it (Redis redelivers a task that
        # runs past the visibility timeout): look again later, in case the owner dies.
        raise self.retry(countdown=ctx.settings.job_stale_after)
    if claimed is Claim.claimed:
        # The run embedded the images it found missing: put them on the map, as a task
        # of its own so a map that fails does not fail the run.
        with ctx.sessions() as session:
            run = session.get(TrainingRun, run_id)
            if run is not None:
                embedding_map.apply_async(
                    args=(run.project_id,), queue=task_names.QUEUE_OF[task_names.EMBEDDING_MAP]
                )


@celery_app.task(name=task_names.EMBED, ignore_result=True)
def embed(project_id: int) -> None:
    """Embed a project's new images; before any model exists, rank them for a cold start."""
    ctx = worker_context()
    with ctx.sessions() as session:
        project = session.get(Project, project_id)
        if project is None:
            return
        embed_missing(ctx, session, project.id, project.backbone)
        if service.latest_model(session, project.id) is None:
            for strategy in strategies_to_score(session, project):
                score_project(ctx, session, project, strategy, None)
        update_map(ctx, session, project.id, project.backbone)


@celery_app.task(name=task_names.SCORE, ignore_result=True)
def score(project_id: int, strategy: str) -> None:
    """Rank a project's queue with one strategy, from its latest model (if any)."""
    ctx = worker_context()
    with ctx.sessions() as session:
        project = session.get(Project, project_id)
        if project is None:
            return
        score_project(ctx, session, project, strategy, service.latest_model(session, project.id))


@celery_app.task(name=task_names.SALIENCY, ignore_result=True, bind=True)
def saliency(self: Task[Any, Any], map_id: int) -> None:
    """Make one saliency map (a Grad-CAM PNG) asked for by a request."""
    make_map(worker_context(), map_id, owner_of(self.request.hostname))


@celery_app.task(name=task_names.EMBEDDING_MAP, ignore_result=True)
def embedding_map(project_id: int) -> None:
    """Fit a project's embedding map, or place the images embedded since its fit."""
    ctx = worker_context()
    with ctx.sessions() as session:
        project = session.get(Project, project_id)
        if project is None:
            return
        backbone = project.backbone
        update_map(ctx, session, project_id, backbone)
