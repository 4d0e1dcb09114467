"""Development tools: measuring candidate models and regenerating classifiers/MODEL_CARD.md.

Run from a checkout (`python -m tools.compare`, `python -m tools.heldout`, `python -m tools.card`);
they are not installed with datacall and nothing at run time imports them.
"""
