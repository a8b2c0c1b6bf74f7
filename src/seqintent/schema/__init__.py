"""Canonical events, the action taxonomy and dataset configs.

The first stage: everything else speaks these names. A raw log is described once by a
:class:`DatasetConfig` (YAML); its rows become canonical events whose fields are named in
:class:`Columns`; raw actions map to the canonical actions of :data:`FAMILIES`.
"""

from seqintent.schema.actions import (
    ACTION_FAMILY,
    CANONICAL_ACTIONS,
    FAMILIES,
    SYNONYMS,
    canonical_action,
    family_of,
)
from seqintent.schema.columns import (
    DATASET_FORMAT_VERSION,
    MANIFEST_KIND_DATASET,
    AnomalyFiles,
    Columns,
    DatasetFiles,
    DropReasons,
    RawColumns,
    SequenceFields,
    Splits,
    Vocabularies,
)
from seqintent.schema.config import (
    ActionSpec,
    CleaningConfig,
    DatasetConfig,
    ExplodeSpec,
    FieldSource,
    ItemTable,
    KCore,
    SessionConfig,
    SourceConfig,
    SplitConfig,
    TimeSpec,
    TimeWindow,
    UserTable,
    as_field_source,
    load_config,
)
from seqintent.schema.presets import list_presets, load_preset, preset_path, presets_folder

__all__ = [
    "ACTION_FAMILY",
    "CANONICAL_ACTIONS",
    "DATASET_FORMAT_VERSION",
    "FAMILIES",
    "MANIFEST_KIND_DATASET",
    "SYNONYMS",
    "ActionSpec",
    "AnomalyFiles",
    "CleaningConfig",
    "Columns",
    "DatasetConfig",
    "DatasetFiles",
    "DropReasons",
    "ExplodeSpec",
    "FieldSource",
    "ItemTable",
    "KCore",
    "RawColumns",
    "SequenceFields",
    "SessionConfig",
    "SourceConfig",
    "SplitConfig",
    "Splits",
    "TimeSpec",
    "TimeWindow",
    "UserTable",
    "Vocabularies",
    "as_field_source",
    "canonical_action",
    "family_of",
    "list_presets",
    "load_config",
    "load_preset",
    "preset_path",
    "presets_folder",
]
