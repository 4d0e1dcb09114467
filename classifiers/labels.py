"""The two classes the classifier decides between, and what a decision carries."""

from dataclasses import dataclass

DATA_REQUEST = "data_request"
OFF_TOPIC = "off_topic"
LABELS = (DATA_REQUEST, OFF_TOPIC)


@dataclass(frozen=True)
class Prediction:
    """One decision: `score` is P(data_request); `label` applies the caller's threshold."""

    label: str
    score: float
    lang: str


def label_for(score: float, threshold: float = 0.5) -> str:
    """The single place where a score becomes a label."""
    return DATA_REQUEST if score >= threshold else OFF_TOPIC
