"""Labeling routes: the queue, annotations, undo, bulk labels, counters."""

from __future__ import annotations

from typing import Annotated

from celery import Celery
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.auth.deps import ApiUser
from app.config import Settings
from app.db import SessionDep, one_transaction
from app.errors import InvalidInput
from app.images import service as images
from app.labeling import counters, decisions, duplicates, leases, overlap, service
from app.labeling.bulk_undo import undo_bulk
from app.labeling.caller import ImageCall, ProjectCall
from app.labeling.hot_session import Hot, hot_image, hot_project
from app.labeling.models import QueueMode
from app.labeling.next_image import next_image
from app.labeling.queue_sql import ServedImage
from app.labeling.review_port import ReviewQueue, review_pools
from app.labeling.schemas import (
    AnnotationOut,
    BulkDecision,
    BulkOut,
    BulkUndo,
    Counters,
    Decision,
    Disagreement,
    KeepOne,
    KeepResult,
    QueueItem,
    QueueOrder,
    Release,
    ReviewInfo,
    Suggestion,
)
from app.labeling.training_port import labels_recorded, queue_inputs
from app.projects import service as projects
from app.projects.choices import StrategyName
from app.settings_dep import CeleryDep, get_app_settings, get_celery
from app.validation import MAX_ID, Id

router = APIRouter(tags=["labeling"])
MAX_EXCLUDE = 50
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
# The hot routes' session and caller: opened in one thread-pool hop, the token's lookup
# folded into the first query (app.labeling.hot_session, app.labeling.caller).
HotProject = Annotated[Hot[ProjectCall], Depends(hot_project)]
HotImage = Annotated[Hot[ImageCall], Depends(hot_image)]


def _settings(request: Request) -> Settings:
    # The two hot routes read the app's settings and Celery client here rather than as
    # dependencies: FastAPI runs each sync dependency through the thread pool, one hop
    # (and its CPU) per call for what is an attribute read.
    return get_app_settings(request)


def _celery(request: Request) -> Celery:
    return get_celery(request)


def _json(
    model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    # The hot routes send their typed model as JSON themselves: FastAPI would validate a
    # model built from typed values once more against ``response_model`` (which stays,
    # for the API's schema) on a thread-pool hop of its own, for every call.
    body = model.__pydantic_serializer__.to_json(model)
    return Response(body, status_code, headers, media_type="application/json")


def _exclude(raw: str | None) -> set[int]:
    parts = [p.strip() for p in (raw or "").split(",") if p.strip()]
    if len(parts) > MAX_EXCLUDE:
        raise InvalidInput(f"exclude: at most {MAX_EXCLUDE} image ids.")
    if not all(p.isdigit() and 0 < int(p) <= MAX_ID for p in parts):
        raise InvalidInput("exclude: comma-separated image ids, e.g. exclude=12,13.")
    return {int(p) for p in parts}


def _review(
    session: Session, project_id: int, mode: QueueMode, image: ServedImage, model: Suggestion | None
) -> tuple[ReviewInfo | None, Suggestion | None]:
    """What the insight queues show beside the image, and the suggestion Enter takes."""
    queue: ReviewQueue = "label_issues" if mode == QueueMode.label_issues else "odd_pictures"
    found = review_pools().detail(session, project_id, queue, image.id)
    if found is None:
        return None, model
    review = ReviewInfo.model_validate(found, from_attributes=True)
    review.current_category_id = image.category_id
    if found.suggested_category_id is None:
        return review, model
    # A label issue: Enter takes the class its out-of-fold scorer believes in, which the
    # run's own prediction (trained on the suspect label itself) may not be.
    if found.suggested_confidence is None:
        return review, None  # the screen falls back to review.suggested_category_id
    return review, Suggestion(
        category_id=found.suggested_category_id, confidence=found.suggested_confidence
    )


@router.get(
    "/projects/{project_id}/queue/next",
    response_model=QueueItem,
    responses={204: {"description": "Nothing is left in this queue."}},
)
def queue_next(
    project_id: Id,
    request: Request,
    hot: HotProject,
    strategy: QueueOrder = "active",
    mode: QueueMode = QueueMode.label,
    exclude: Annotated[str | None, Query(max_length=1000)] = None,
    category_id: Id | None = None,
    ranking: Annotated[
        StrategyName | None,
        Query(
            description="Active learning: the strategy whose ranking to follow this session "
            "(default: the project's)."
        ),
    ] = None,
) -> Response:
    with one_transaction(hot.session) as session:
        return _next_item(
            session, hot.call, request, project_id, strategy, mode, exclude, category_id, ranking
        )


def _next_item(
    session: Session,
    caller: ProjectCall,
    request: Request,
    project_id: int,
    strategy: QueueOrder,
    mode: QueueMode,
    exclude: str | None,
    category_id: int | None,
    ranking: StrategyName | None,
) -> Response:
    held = _exclude(exclude)
    user = caller.user
    project = caller.project(session, project_id)
    state = queue_inputs().training_state(session, project, ranking)
    follow = state.ranking
    if ranking is not None and follow != ranking:
        queue_inputs().request_scoring(session, _celery(request), project, ranking)
    served = next_image(
        session,
        project,
        user,
        mode=mode,
        queue_order=strategy,
        category_id=category_id,
        exclude=held,
        lease_seconds=_settings(request).lease_seconds,
        ranking=follow,
    )
    if served is None:
        return Response(status_code=204)
    suggested = queue_inputs().suggestion(session, state.model_run_id, served.image.id)
    suggestion = (
        None
        if suggested is None
        else Suggestion(category_id=suggested.category_id, confidence=suggested.confidence)
    )
    image_id = served.image.id
    disagreement = None
    if mode == QueueMode.disagreements and (pair := overlap.dispute(session, served.image.id)):
        first, second = service.outs(session, pair)
        disagreement = Disagreement(first=first, second=second)
    review = None
    if mode in (QueueMode.label_issues, QueueMode.odd_pictures):
        review, suggestion = _review(session, project.id, mode, served.image, suggestion)
    # The URLs as ``image_out`` words them, without validating a whole ``ImageOut``.
    item = QueueItem(
        image_id=image_id,
        file_url=f"/api/v1/images/{image_id}/file",
        thumbnail_url=f"/api/v1/images/{image_id}/thumbnail",
        display_url=f"/api/v1/images/{image_id}/display",
        filename=served.image.filename,
        width=served.image.width,
        height=served.image.height,
        suggestion=suggestion,
        ranking=follow,
        ranking_text=state.ranking_text,
        lease_expires_at=served.lease_expires_at,
        mode=mode,
        strategy=strategy,
        remaining=served.remaining,
        disagreement=disagreement,
        review=review,
    )
    return _json(item)


@router.post("/projects/{project_id}/queue/release", status_code=204)
def queue_release(project_id: Id, body: Release, session: SessionDep, user: ApiUser) -> Response:
    projects.get_project(session, user, project_id)
    leases.release(session, user.id, body.image_ids)
    return Response(status_code=204)


@router.post("/images/{image_id}/annotations", status_code=201, response_model=AnnotationOut)
def create_annotation(
    image_id: Id,
    body: Decision,
    request: Request,
    hot: HotImage,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    with one_transaction(hot.session) as session:
        user = hot.call.user
        project, image = hot.call.image(session, image_id)
        recorded = decisions.record(session, user, project, image, body, idempotency_key)
        headers = None
        if not recorded.created:
            headers = {"Idempotent-Replayed": "true"}
        else:
            labels_recorded(session, _celery(request), project, recorded.annotations[0].id)
        # An idempotency key is the caller's own: the author is the caller, no query needed.
        return _json(service.out(recorded.annotations[0], user.username), 201, headers)


@router.get("/images/{image_id}/annotations", response_model=list[AnnotationOut])
def list_annotations(image_id: Id, session: SessionDep, user: ApiUser) -> list[AnnotationOut]:
    images.get_image(session, user, image_id)
    return service.outs(session, service.history(session, image_id))


@router.post("/projects/{project_id}/undo", status_code=201, response_model=AnnotationOut)
def undo(project_id: Id, session: SessionDep, user: ApiUser) -> AnnotationOut:
    project = projects.get_project(session, user, project_id)
    return service.outs(session, [service.undo_last(session, user, project)])[0]


@router.post("/projects/{project_id}/annotations/bulk", status_code=201, response_model=BulkOut)
def bulk_annotate(
    project_id: Id,
    body: BulkDecision,
    session: SessionDep,
    user: ApiUser,
    response: Response,
    celery: CeleryDep,
    idempotency_key: IdempotencyKey = None,
) -> BulkOut:
    project = projects.get_project(session, user, project_id)
    decision = Decision(category_id=body.category_id, rejected=body.rejected, reason=body.reason)
    recorded = decisions.bulk(session, user, project, body.image_ids, decision, idempotency_key)
    if not recorded.created:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        newest = max((a.id for a in recorded.annotations), default=0)
        labels_recorded(session, celery, project, newest)
    made = [service.out(a, user.username) for a in recorded.annotations]
    return BulkOut(created=len(made), annotations=made)


@router.post(
    "/projects/{project_id}/annotations/bulk/undo", status_code=201, response_model=BulkOut
)
def bulk_undo(project_id: Id, body: BulkUndo, session: SessionDep, user: ApiUser) -> BulkOut:
    """Undo the caller's bulk action sent with this Idempotency-Key, as one step."""
    project = projects.get_project(session, user, project_id)
    made = [
        service.out(a, user.username)
        for a in undo_bulk(session, user, project, body.idempotency_key)
    ]
    return BulkOut(created=len(made), annotations=made)


@router.get("/projects/{project_id}/counters", response_model=Counters)
def project_counters(project_id: Id, session: SessionDep, user: ApiUser) -> Counters:
    return counters.counters(session, projects.get_project(session, user, project_id))


@router.post("/projects/{project_id}/duplicate-groups/{group_id}/keep", response_model=KeepResult)
def keep_duplicate(
    project_id: Id, group_id: Id, body: KeepOne, session: SessionDep, user: ApiUser
) -> KeepResult:
    project = projects.get_project(session, user, project_id)
    image = duplicates.image_in_group(session, project, group_id, body.image_id)
    return KeepResult(kept=image.id, rejected=duplicates.keep_one(session, image, user.id))
