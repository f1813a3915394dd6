"""Product recommender: models, training, evaluation and a small serving facade.

Called by the action server (``actions/products.py``) and the gateway; see ``recommender/README.md``.
Plain typed Python: it never imports Rasa, and nothing heavy (torch, transformers) is imported or
loaded at import time.
"""

from recommender.data import Catalog, Interactions, Product
from recommender.errors import ArtifactsNotFound, RecommenderError, UnknownProduct
from recommender.service import Filters, Recommendation, Recommender, get_recommender, reset_recommender

__all__ = [
    "ArtifactsNotFound",
    "Catalog",
    "Filters",
    "Interactions",
    "Product",
    "Recommendation",
    "Recommender",
    "RecommenderError",
    "UnknownProduct",
    "get_recommender",
    "reset_recommender",
]
