"""The Dataset folder format: cleaned events, per-user sequence arrays, vocabularies, stats.

Ingest writes a Dataset with :class:`DatasetWriter`; training and evaluation read it with
:func:`load_dataset` and nothing else. This stage sits before ``ingest`` because it is the
contract ingest writes to.
"""

from seqintent.data.artifact import ArtifactWriter, read_json, read_manifest, write_json
from seqintent.data.dataset import Dataset, DatasetWriter, load_dataset
from seqintent.data.sequences import SequenceArrays
from seqintent.data.vocab import Vocabulary

__all__ = [
    "ArtifactWriter",
    "Dataset",
    "DatasetWriter",
    "SequenceArrays",
    "Vocabulary",
    "load_dataset",
    "read_json",
    "read_manifest",
    "write_json",
]
