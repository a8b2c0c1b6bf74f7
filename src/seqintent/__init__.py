"""seqintent: infer what users intend from what they do.

Raw behaviour logs go through one direction of stages (see ARCHITECTURE in the docs):
``schema`` (canonical events, configs) → ``data`` (the Dataset folder format) → ``ingest``
(DuckDB reader, cleaning, splits) → models, training, evaluation → runtime and serving.
``simulate`` writes logs with known ground truth for the demo and the tests.
"""

__version__ = "0.1.0"

from seqintent.errors import (
    ArtifactError,
    ColumnError,
    ConfigError,
    DataError,
    MissingDependencyError,
    NotFittedError,
    SeqintentError,
)

__all__ = [
    "ArtifactError",
    "ColumnError",
    "ConfigError",
    "DataError",
    "MissingDependencyError",
    "NotFittedError",
    "SeqintentError",
    "__version__",
]
