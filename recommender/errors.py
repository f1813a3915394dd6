"""The recommender's exception family; callers map these to a user-facing reply."""


class RecommenderError(Exception):
    """Base class of every error the recommender raises on purpose."""


class ArtifactsNotFound(RecommenderError):
    """No trained artifacts where they were looked for: run ``python -m recommender train``."""


class UnknownProduct(RecommenderError):
    """A product id that is not in the trained catalogue."""


class DatasetError(RecommenderError):
    """A dataset file that is missing or malformed."""
