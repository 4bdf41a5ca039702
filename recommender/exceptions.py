"""Domain errors of the recommender, turned into messages or HTTP codes at the edge."""


class RecommenderError(Exception):
    """Base of the recommender's domain errors."""


class ModelArtifactError(RecommenderError):
    """A model file cannot be trusted or used."""


class ArtifactIntegrityError(ModelArtifactError):
    """The model file is missing or its sha256 differs from its ModelVersion row."""


class ArtifactVersionMismatch(ModelArtifactError):
    """The model was trained with other library versions than this process runs."""


class NotEnoughLabels(RecommenderError):
    """Too few labels to train a model."""


class UnknownRunReconstruction(RecommenderError):
    """The run (or its reconstruction) is not in the database."""


class InvalidFeedback(RecommenderError):
    """A shifter's decision cannot be recorded as given (unknown run, missing reason...)."""


class DecisionClosed(InvalidFeedback):
    """The run reconstruction takes no decision now (decided, certified, or the author's
    time to change it is over): a shift leader can reopen it."""


class InvalidDeclaration(RecommenderError):
    """A shift leader's declared reference cannot be recorded as given."""
