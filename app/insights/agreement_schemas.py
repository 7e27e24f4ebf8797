"""The agreement API's answer: how far a project's annotators agree, and where they do not."""

from __future__ import annotations

from pydantic import BaseModel, Field

Coefficient = float | None  # None: too few images, or one label throughout (undefined)


class AnnotatorPair(BaseModel):
    """Two annotators over the images both of them labeled."""

    user_ids: list[int] = Field(min_length=2, max_length=2)
    usernames: list[str] = Field(min_length=2, max_length=2)
    images: int
    agreement: float = Field(description="Share of the shared images with the same label.")
    kappa: Coefficient = Field(description="Cohen's kappa; null under `min_images` images.")


class AnnotatorAgreement(BaseModel):
    user_id: int
    username: str
    labels: int = Field(description="Opinions given on images with two or more opinions.")
    compared: int = Field(description="Of those, on images whose final label is decided.")
    agreement_with_final: float | None = Field(
        description="Share of the compared opinions that match the image's current label "
        "(agreed, or settled by a manager's review); null if none is decided yet."
    )


class CategoryAgreement(BaseModel):
    """One category against all the others (one-vs-rest)."""

    category_id: int | None = Field(description="null for a rejection.")
    path: str
    rejected: bool
    opinions: int
    images: int = Field(description="Images on which at least one opinion was this category.")
    agreement: float | None = Field(
        description="When someone said this category, the share of the others who did too."
    )
    kappa: Coefficient
    alpha: Coefficient


class ConfusedPair(BaseModel):
    """Two categories (or a category and a rejection) that annotators split an image over."""

    category_ids: list[int | None] = Field(min_length=2, max_length=2)
    paths: list[str] = Field(min_length=2, max_length=2)
    images: int
    image_ids: list[int] = Field(description="The first of those images, by id (at most 50).")


class Agreement(BaseModel):
    kappa: Coefficient = Field(
        description="Fleiss' kappa over the images with two or more opinions (rejection is "
        "a label of its own); null under `min_images` images or with one label throughout."
    )
    alpha: Coefficient = Field(description="Krippendorff's nominal alpha over the same images.")
    images: int = Field(description="Images with two or more opinions.")
    min_images: int = Field(description="The fewest images a coefficient is given for.")
    pairs: list[AnnotatorPair]
    annotators: list[AnnotatorAgreement]
    categories: list[CategoryAgreement]
    confusions: list[ConfusedPair] = Field(description="Most frequently split pairs first.")
