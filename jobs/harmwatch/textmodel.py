"""The module path of :mod:`harmwatch.model.textmodel` in models saved before format 4.

skops records each class by its module path, and model versions registered before the package was
grouped into folders name ``harmwatch.textmodel``. This alias keeps those champions loadable; new code
imports :mod:`harmwatch.model.textmodel`.
"""

from harmwatch.model.textmodel import (
    CompactTfidfVectorizer,
    HarmfulContentPipeline,
    LogCountRatioClassifier,
    StackedTextClassifier,
    WordCharHashing,
    clean_frame,
    meta_features,
)

__all__ = [
    "CompactTfidfVectorizer",
    "HarmfulContentPipeline",
    "LogCountRatioClassifier",
    "StackedTextClassifier",
    "WordCharHashing",
    "clean_frame",
    "meta_features",
]
