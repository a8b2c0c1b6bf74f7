"""Why, and what the user is into: attributions, interests and exclusions, rationales, and ``predict``.

:func:`predict` assembles every answer of a Model for a history (next items honouring
exclusions, next action, calibrated intents, interests, cold-start blend) with the events that
drove each answer (:mod:`~seqintent.explain.attribution`) and a sentence for each
(:mod:`~seqintent.explain.rationale`). Histories come from canonical events or a Dataset user
(:mod:`~seqintent.explain.history`).
"""

from seqintent.explain.attribution import AnswerFunction, compact, event_weights, normalise
from seqintent.explain.history import Histories, histories_from_dataset, histories_from_events, read_events
from seqintent.explain.interests import InterestResult, interests_and_exclusions
from seqintent.explain.predict import predict

__all__ = [
    "AnswerFunction",
    "Histories",
    "InterestResult",
    "compact",
    "event_weights",
    "histories_from_dataset",
    "histories_from_events",
    "interests_and_exclusions",
    "normalise",
    "predict",
    "read_events",
]
