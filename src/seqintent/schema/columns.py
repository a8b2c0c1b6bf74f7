"""Canonical column names and artifact file names, defined once.

Nobody types ``"user_id"`` or ``"manifest.json"`` twice: import the constant.
"""

from __future__ import annotations

from typing import ClassVar


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
    EVENT_ID = "event_id"  # online events (serve): the client's id, or a hash of the event's content

    # derived by ingest
    INPUT_ORDER = "input_order"  # position of the event in the input (file, line, sub-event): the tie-break
    GAP = "gap_s"  # seconds since the user's previous kept event (null for the first)
    SESSION_INDEX = "session_index"  # 0-based session number within the user
    SPLIT = "split"  # "train" | "valid" | "test"
    EVENT_INDEX = "event_index"  # position of the kept event in the sequence arrays (events.parquet only)
    USER_INDEX = "user_index"  # users.parquet: the user's index in the users vocabulary (null if absent)
    ITEM_INDEX = "item_index"  # items.parquet: the item's index in the items vocabulary (null if absent)

    REQUIRED = (USER, ACTION)
    OPTIONAL = (TIME, ITEM, CATEGORY, DWELL, AMOUNT, DEVICE, SESSION, TEXT)
    ALL = (USER, TIME, ACTION, ACTION_RAW, ITEM, CATEGORY, DWELL, AMOUNT, DEVICE, SESSION, TEXT, ATTRS)


class RawColumns:
    """Columns ingest adds to the raw columns of an input, for configs to refer to.

    ``row_no`` exists for every text/Parquet/JSONL table (1-based data row within its file, unless
    the file has a column of that name). ``sequences`` files expose ``line_no``, ``head`` (with
    ``head_is_user``), ``position`` and ``token``; ``prefix_label`` files expose ``session_no``,
    ``line_no`` (the session's first line), ``position`` and ``token``; ``explode`` adds
    ``position`` and puts each token in the exploded column.
    """

    ROW_NO = "row_no"
    LINE_NO = "line_no"
    HEAD = "head"
    POSITION = "position"
    TOKEN = "token"
    SESSION_NO = "session_no"


class DropReasons:
    """Why ingest dropped an event; keys of ``stats.json["dropped"]``, in the order rules apply.

    An event dropped by a rule is not seen by later rules, so each event counts once.
    ``malformed``, ``empty_sequence`` and ``no_action`` count input rows that yield no event
    (a row that cannot be parsed, a sequence with no token, a flags row without a base action
    and with no flag set); every other reason counts events.
    """

    MALFORMED = "malformed"
    EMPTY_SEQUENCE = "empty_sequence"
    NO_ACTION = "no_action"
    MISSING_USER = "missing_user"
    MISSING_TIME = "missing_time"
    BAD_TIME = "bad_time"
    OUTSIDE_WINDOW = "outside_window"
    MISSING_ITEM = "missing_item"
    UNKNOWN_ACTION = "unknown_action"
    MISCLICK = "misclick"
    DUPLICATE = "duplicate"
    KCORE = "kcore"
    ALL = (
        MALFORMED,
        EMPTY_SEQUENCE,
        NO_ACTION,
        MISSING_USER,
        MISSING_TIME,
        BAD_TIME,
        OUTSIDE_WINDOW,
        MISSING_ITEM,
        UNKNOWN_ACTION,
        MISCLICK,
        DUPLICATE,
        KCORE,
    )


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

    DTYPES: ClassVar[dict[str, str]] = {
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
    SURPRISE = "surprise.json"  # top-g and calibration of the sequence-surprise signal
    SEQUENCE_MODEL_DIR = "sequence_model"  # the next-item Model folder the surprise uses


class ModelFiles:
    """File names inside a Model folder (written by ``seqintent train``)."""

    MANIFEST = DatasetFiles.MANIFEST
    CONFIG = "config.json"  # the NextItemConfig (model + train) and the input spec
    WEIGHTS = "model.safetensors"
    VOCAB = DatasetFiles.VOCAB  # the vocabularies of the Dataset it was trained on
    DATASET_MANIFEST = "dataset_manifest.json"  # the manifest of that Dataset
    METRICS = "metrics.json"  # validation metrics, epochs, timings
    CHECKPOINT_SUFFIX = ".checkpoint"  # sibling folder MODEL.checkpoint/ holds the resumable training state
    # intent heads (present when the model was trained with them)
    INTENTS = "intents.json"  # labels, cut protocol, calibration maps, profile facts, intent metrics
    INTENT_WEIGHTS = "intents.safetensors"  # head weights and profile arrays (prefix "profile.")
    PROFILE_USERS = "profile_users.parquet"  # user id → segment, when the Dataset has a user table


MANIFEST_KIND_MODEL = "seqintent.model"
MODEL_FORMAT_VERSION = 1


class SimulatorColumns:
    """Columns of the raw log ``seqintent simulate`` writes, in file order (preset ``simulator`` reads it).

    Most are the canonical names; ``action`` holds raw values (``pv``, ``play``, ``balance`` …) that
    the preset maps. ``payee`` and ``location`` are the finance scenario's; the preset takes the
    item of a finance event from ``payee``. A column a scenario does not use is empty.
    """

    USER = Columns.USER  # int64
    TIME = Columns.TIME  # int64, UTC epoch milliseconds
    ACTION = Columns.ACTION  # string, raw action name
    ITEM = Columns.ITEM  # int64
    CATEGORY = Columns.CATEGORY  # string
    DWELL = Columns.DWELL  # float64, seconds
    AMOUNT = Columns.AMOUNT  # float64
    DEVICE = Columns.DEVICE  # string
    SESSION = Columns.SESSION  # int64, unique over the whole log
    PAYEE = "payee"  # string
    LOCATION = "location"  # string
    TEXT = Columns.TEXT  # string (search queries)
    ALL = (USER, TIME, ACTION, ITEM, CATEGORY, DWELL, AMOUNT, DEVICE, SESSION, PAYEE, LOCATION, TEXT)


class TruthColumns:
    """Column names of the simulator's ground-truth tables (see :mod:`seqintent.simulate`)."""

    EVENT_ID = "event_id"  # 0-based row of the event in the log file (= ingest's input order)
    FIRST_EVENT_ID = "first_event_id"
    LAST_EVENT_ID = "last_event_id"
    OF_EVENT_ID = "of_event_id"
    USER = Columns.USER
    TIME = Columns.TIME
    SESSION = Columns.SESSION
    START = "start_ts"
    END = "end_ts"
    N_EVENTS = "n_events"
    LABEL = "label"
    POSITIVE = "positive"
    SIGNAL = "signal"
    INSTANCE = "instance"
    ROLE = "role"
    KIND = "kind"
    ITEM = Columns.ITEM
    CATEGORY = Columns.CATEGORY


class SimulationFiles:
    """File names of a simulation's ground truth: a folder ``<log file>.truth/`` beside the log."""

    TRUTH_SUFFIX = ".truth"  # events.csv → events.csv.truth/
    MANIFEST = "truth.json"  # kind, format version, scenario, seed, parameters, counts, tables
    SESSIONS = "sessions.parquet"  # one row per session: label and scenario-specific facts
    SIGNALS = "signals.parquet"  # one row per (planted signal instance, causing event)
    USERS = "users.parquet"  # one row per user: the habits / interests the scenario drew
    NOISE = "noise.parquet"  # one row per noise event (misclick, duplicate)
    ITEMS = "items.parquet"  # catalogue: item, category, popularity (ecommerce, content)
    COMPLEMENTS = "complements.parquet"  # ecommerce: source item → complementary item
    INTERESTS = "interests.parquet"  # content: user × theme → true share
    PAYEES = "payees.parquet"  # finance: each user's habitual payees
    TABLES = (SESSIONS, SIGNALS, USERS, NOISE, ITEMS, COMPLEMENTS, INTERESTS, PAYEES)

    @classmethod
    def table_file(cls, name: str) -> str:
        """File of the truth table ``name`` (``"sessions"`` → ``"sessions.parquet"``)."""
        file = f"{name}.parquet"
        if file not in cls.TABLES:
            raise KeyError(
                f"no truth table named {name!r}; known: {[t.removesuffix('.parquet') for t in cls.TABLES]}"
            )
        return file


MANIFEST_KIND_SIMULATION = "seqintent.simulation"
SIMULATION_FORMAT_VERSION = 1


class RuntimeFiles:
    """File names inside a Runtime folder (``seqintent export`` writes it; the only thing ``serve`` loads)."""

    MANIFEST = DatasetFiles.MANIFEST
    CONFIG = "runtime.json"  # input spec, truncation rule, ONNX input / output names, export checks
    ONNX_FP32 = "model.onnx"
    ONNX_INT8 = "model.int8.onnx"
    VOCAB = DatasetFiles.VOCAB  # the Model's vocabularies (their counts are the popularity fallback)
    SUFFIX = ".runtime"  # default location: sibling folder MODEL.runtime/


MANIFEST_KIND_RUNTIME = "seqintent.runtime"
RUNTIME_FORMAT_VERSION = 1
