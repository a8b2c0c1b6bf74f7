"""Canonical column names and artifact file names, defined once.

Nobody types ``"user_id"`` or ``"manifest.json"`` twice: import the constant.
"""

from __future__ import annotations


class Columns:
    """Canonical event fields (one row of the cleaned event table).

    ``ts`` is UTC epoch milliseconds. ``action`` is a canonical action name (see
    :mod:`seqintent.schema.actions`); ``action_raw`` keeps the value found in the log.
    """

    USER = "user_id"
    TIME = "ts"
    ACTION = "action"
    ACTION_RAW = "action_raw"
    ITEM = "item_id"
    CATEGORY = "category"
    DWELL = "dwell_s"
    AMOUNT = "amount"
    DEVICE = "device"
    SESSION = "session_id"
    TEXT = "text"
    ATTRS = "attrs"

    # derived by ingest
    INPUT_ORDER = "input_order"  # position of the event in the input (file, line, sub-event): the tie-break
    GAP = "gap_s"  # seconds since the user's previous kept event (null for the first)
    SESSION_INDEX = "session_index"  # 0-based session number within the user
    SPLIT = "split"  # "train" | "valid" | "test"

    REQUIRED = (USER, ACTION)
    OPTIONAL = (TIME, ITEM, CATEGORY, DWELL, AMOUNT, DEVICE, SESSION, TEXT)
    ALL = (USER, TIME, ACTION, ACTION_RAW, ITEM, CATEGORY, DWELL, AMOUNT, DEVICE, SESSION, TEXT, ATTRS)


class Splits:
    """Split codes as stored in the per-event ``split`` array."""

    TRAIN = 0
    VALID = 1
    TEST = 2
    NAMES = ("train", "valid", "test")

    @classmethod
    def code(cls, name: str) -> int:
        return cls.NAMES.index(name)


class DatasetFiles:
    """File names inside a Dataset folder."""

    MANIFEST = "manifest.json"
    STATS = "stats.json"
    EVENTS = "events.parquet"
    SEQUENCES = "sequences"  # folder of .npy arrays: offsets.npy + one array per field
    OFFSETS = "offsets.npy"
    VOCAB = "vocab"  # folder: one <name>.parquet per vocabulary
    USERS_TABLE = "users.parquet"  # static user attributes, when the config supplies a user table
    ITEMS_TABLE = "items.parquet"  # item side information, when the config supplies an item table


class SequenceFields:
    """Names of the per-event arrays in ``sequences/`` (``<name>.npy``), with their dtypes.

    Every array has one entry per kept event, ordered by user index, then time, then input order.
    User ``u``'s events are ``[offsets[u], offsets[u + 1])``. Index 0 of a vocabulary field means
    "none / padding"; float fields use NaN for "unknown".
    """

    ITEM = "item"  # int32, items vocabulary index (0 = event without an item)
    ACTION = "action"  # int16, actions vocabulary index (≥ 1)
    CATEGORY = "category"  # int32, categories vocabulary index (0 = none)
    TIME = "ts"  # int64, UTC epoch ms (present only when the log has time)
    GAP = "gap_s"  # float32, seconds since the user's previous event (NaN for the first / no time)
    DWELL = "dwell_s"  # float32, NaN when unknown
    AMOUNT = "amount"  # float32, NaN when unknown
    DEVICE = "device"  # int32, devices vocabulary index (0 = none)
    SESSION = "session"  # int32, 0-based session number within the user
    SPLIT = "split"  # int8, see :class:`Splits`

    DTYPES = {
        ITEM: "int32",
        ACTION: "int16",
        CATEGORY: "int32",
        TIME: "int64",
        GAP: "float32",
        DWELL: "float32",
        AMOUNT: "float32",
        DEVICE: "int32",
        SESSION: "int32",
        SPLIT: "int8",
    }
    ALWAYS = (ITEM, ACTION, CATEGORY, GAP, SESSION, SPLIT)


class Vocabularies:
    """Vocabulary names (``vocab/<name>.parquet``).

    Each file has columns ``index`` (int32), ``value`` (string) and ``count`` (int64, kept events).
    ``users`` is 0-based (the row of ``offsets``); every other vocabulary reserves index 0 for
    padding / none, so its first real value has index 1.
    """

    USERS = "users"
    ITEMS = "items"
    ACTIONS = "actions"  # also has a ``family`` column
    CATEGORIES = "categories"
    DEVICES = "devices"
    ALL = (USERS, ITEMS, ACTIONS, CATEGORIES, DEVICES)
    PADDED = (ITEMS, ACTIONS, CATEGORIES, DEVICES)


MANIFEST_KIND_DATASET = "seqintent.dataset"
DATASET_FORMAT_VERSION = 1


class AnomalyFiles:
    """File names and kinds of the anomaly stage's folders (profiles, anomaly model)."""

    KIND_PROFILES = "seqintent.profiles"
    KIND_MODEL = "seqintent.anomaly"
    FORMAT_VERSION = 1
    CONFIG = "config.json"
    PROFILES = "profiles.parquet"
    PROFILES_DIR = "profiles"  # a profiles folder inside an anomaly model folder
    RULES = "rules.yaml"
    SURPRISE = "surprise.json"  # calibration of the sequence-surprise signal
