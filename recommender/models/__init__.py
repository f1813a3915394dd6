"""Recommender models; each scores every catalogue item for a batch of user histories.

Importing this package is light: the torch model lives in ``recommender.models.sasrec`` and the
MiniLM encoder is loaded only when a content model with text is fitted.
"""

from recommender.models.base import Scorer, history_matrix
from recommender.models.content import ContentModel
from recommender.models.hybrid import HybridModel
from recommender.models.knn import ItemKNN, SequentialRules, UserKNN
from recommender.models.popularity import Popularity

__all__ = [
    "ContentModel",
    "HybridModel",
    "ItemKNN",
    "Popularity",
    "Scorer",
    "SequentialRules",
    "UserKNN",
    "history_matrix",
]
