"""The behaviour suite: hand-written functional tests of what a moderation model must and must not flag.

Short templated posts, each tagged with a functionality (how hate is expressed, or the non-hateful
contrast a model confuses with it), an identity group where there is one, and the expected outcome:
flag or not, and the taxonomy's class where one is defined. Every model version is scored on it, and it
never enters training (:func:`overlaps` checks texts against it). docs/behaviour.md describes it.
"""

from harmwatch.behaviour.functionalities import FUNCTIONALITIES, Functionality
from harmwatch.behaviour.groups import GROUP_LABELS, GROUPS
from harmwatch.behaviour.report import behaviour_report, markdown_table
from harmwatch.behaviour.suite import SUITE_VERSION, normalise, overlaps, suite_frame

__all__ = [
    "FUNCTIONALITIES",
    "GROUPS",
    "GROUP_LABELS",
    "SUITE_VERSION",
    "Functionality",
    "behaviour_report",
    "markdown_table",
    "normalise",
    "overlaps",
    "suite_frame",
]
