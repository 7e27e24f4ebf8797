"""The odd-pictures API's bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field


class OutlierOut(BaseModel):
    image_id: int
    score: float = Field(
        description="How atypical the picture is among the project's, 0..1; higher is "
        "odder. About 0.5 is the edge of what the labeled pictures themselves look like."
    )
    flagged: bool = Field(
        description="The product's call: odder than 99% of the labeled pictures are "
        "(score above 0.5), so worth a look in the odd-pictures queue."
    )


class OutliersOut(BaseModel):
    items: list[OutlierOut]
    total: int = Field(description="How many pictures the run scored, all pages.")
    run_id: int | None = Field(
        description="The run the scores come from; null when no run of the project has "
        "scored its pictures yet (and the list is empty)."
    )
