"""The label-issues API's bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field


class LabelIssueOut(BaseModel):
    image_id: int
    given_category_id: int = Field(
        description="The label the run trained on: the image's category, or its ancestor "
        "at the run's level."
    )
    suggested_category_id: int = Field(
        description="The class the out-of-fold model and the image's nearest neighbours "
        "believe in most (a category at the run's level); may equal the given one."
    )
    score: float = Field(
        description="How likely the given label is wrong, 0..1; higher is more likely "
        "wrong. It is 1 minus the probability the ensemble gives the given label."
    )
    flagged: bool = Field(
        description="The product's call, worth a look in the label-issues queue: the "
        "ensemble gives the given label under 10% and the suggestion at least three times "
        "as much, or confident learning (cleanlab) flags the label and the suggestion is "
        "another class."
    )


class LabelIssuesOut(BaseModel):
    items: list[LabelIssueOut]
    total: int = Field(description="How many labeled images the run scored, all pages.")
    run_id: int | None = Field(
        description="The run the scores come from; null when no run of the project has "
        "scored its labels yet (and the list is empty)."
    )
