"""The dataset config: how a raw log's columns become canonical events.

A config is YAML (or a dict) validated by pydantic models. Unknown keys are errors, and every
error names the key (``sources[0].time.unit``), what was expected and what was found. Presets in
``configs/`` are ordinary config files: copy one and edit it.

A field is given as a raw column name (``user_id: visitorid``) or as a mapping with exactly one of
``column`` (a raw column), ``expr`` (a DuckDB SQL expression over raw columns, e.g.
``play_time_ms / 1000.0``) or ``value`` (a constant for every row of the source).

Example
-------
>>> cfg = DatasetConfig.model_validate({
...     "name": "shop",
...     "sources": [{"path": "events.csv", "user_id": "uid", "item_id": "sku",
...                  "time": {"column": "t", "unit": "s"},
...                  "action": {"column": "type", "map": {"1": "view", "2": "buy"}}}],
... })
>>> cfg.sources[0].action.map["2"]
'buy'
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from seqintent.errors import ConfigError, close_names
from seqintent.schema.actions import ACTION_FAMILY, CANONICAL_ACTIONS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldSource(_Strict):
    """Where a canonical field comes from: exactly one of ``column``, ``expr`` or ``value``."""

    column: str | None = Field(None, description="raw column name")
    expr: str | None = Field(None, description="DuckDB SQL expression over the raw columns")
    value: str | int | float | None = Field(None, description="constant for every row of the source")

    @model_validator(mode="after")
    def _exactly_one(self) -> FieldSource:
        given = [k for k in ("column", "expr", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of 'column', 'expr' or 'value' (got {given or 'none'})")
        return self


FieldRef = str | FieldSource
"""A raw column name, or a :class:`FieldSource`."""


def as_field_source(ref: FieldRef | None) -> FieldSource | None:
    """Normalise a field reference: a bare string is a column name."""
    if ref is None or isinstance(ref, FieldSource):
        return ref
    return FieldSource(column=ref)


class TimeSpec(_Strict):
    """How to read the event time. Stored as UTC epoch milliseconds."""

    column: str | None = Field(None, description="raw column holding the time")
    expr: str | None = Field(None, description="DuckDB SQL expression giving the time (number or text)")
    unit: Literal["s", "ms", "us", "ns"] | None = Field(None, description="epoch unit of a numeric time")
    format: str | None = Field(None, description="strftime format of a text time, e.g. '%Y-%m-%d %H'")
    timezone: str = Field("UTC", description="zone of local times in the log; also used for hour/weekday")

    @model_validator(mode="after")
    def _check(self) -> TimeSpec:
        if (self.column is None) == (self.expr is None):
            raise ValueError("give exactly one of 'column' or 'expr'")
        if self.unit is not None and self.format is not None:
            raise ValueError("give 'unit' (epoch numbers) or 'format' (text times), not both")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Asia/Shanghai'"
            ) from err
        return value


def _check_canonical(action: str, where: str) -> None:
    if action not in ACTION_FAMILY:
        near = close_names(action, CANONICAL_ACTIONS)
        raise ValueError(f"{where}: {action!r} is not a canonical action (closest: {', '.join(near)})")


class ActionSpec(_Strict):
    """How to read the action of an event.

    Either one action per row (``column`` / ``expr`` / ``value``, then ``map`` from raw values to
    canonical actions), or several per row (``flags``: a 0/1 column per action, as in feeds that
    log click, like and follow on one exposure row; ``base`` is the action every row has).
    """

    column: str | None = Field(None, description="raw column holding the action")
    expr: str | None = Field(None, description="DuckDB SQL expression giving the action")
    value: str | None = Field(None, description="constant raw action for every row of the source")
    map: dict[str, str] = Field(default_factory=dict, description="raw value → canonical action")
    unknown: Literal["error", "other", "drop"] = Field(
        "error",
        description="raw values neither mapped nor canonical: fail, map to 'other', or drop (counted)",
    )
    flags: dict[str, str] = Field(default_factory=dict, description="0/1 column → canonical action")
    base: str | None = Field(None, description="with flags: the action of the row itself (e.g. 'expose')")

    @field_validator("map", mode="before")
    @classmethod
    def _keys_as_text(cls, value: Any) -> Any:
        # YAML reads `1: view` with an integer key; raw values are compared as text.
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _check(self) -> ActionSpec:
        given = [k for k in ("column", "expr", "value") if getattr(self, k) is not None]
        if self.flags:
            if given:
                raise ValueError("give either 'flags' or one of 'column' / 'expr' / 'value', not both")
        elif len(given) != 1:
            raise ValueError(
                f"give exactly one of 'column', 'expr', 'value' or 'flags' (got {given or 'none'})"
            )
        for raw, action in self.map.items():
            _check_canonical(action, f"map[{raw!r}]")
        for column, action in self.flags.items():
            _check_canonical(action, f"flags[{column!r}]")
        if self.base is not None:
            _check_canonical(self.base, "base")
        return self


class ExplodeSpec(_Strict):
    """Split a text column into one event per token (a whole sequence stored in one cell)."""

    column: str = Field(description="raw column holding the sequence")
    separator: str = Field(" ", description="token separator")


SourceFormat = Literal["auto", "csv", "tsv", "parquet", "jsonl", "sequences", "prefix_label", "json_object"]


class _TableSource(_Strict):
    path: str = Field(
        description="file or glob; relative paths are resolved against the input folder; in a side "
        "table's path, {stem} is the name of the first events file without its extension"
    )
    format: SourceFormat = Field(
        "auto",
        description="file format; 'auto' goes by the extension; json_object (side tables only): one "
        'JSON object {"id": value, ...}, read as the columns key and value',
    )
    delimiter: str | None = Field(
        None, description="field delimiter of a text table (auto-detected if unset)"
    )
    header: bool | None = Field(None, description="whether a text table has a header line (auto if unset)")
    columns: list[str] | None = Field(None, description="column names of a text table without header")
    null_values: list[str] = Field(
        default_factory=lambda: ["", "NA", "NULL", "null"], description="text read as null"
    )
    encoding: Literal["utf-8", "latin-1", "utf-16"] = Field("utf-8", description="text encoding")


class SourceConfig(_TableSource):
    """One input (file or glob) and how its columns map to canonical fields.

    ``sequences`` files hold one whitespace-separated id sequence per line; they expose the raw
    columns ``line_no`` (1-based), ``head`` (the first token, when ``head_is_user``),
    ``position`` (0-based) and ``token``. ``prefix_label`` files hold ``prefix<TAB>label`` test
    lines (all prefixes of each session, longest first); they expose ``session_no``, ``position``
    and ``token`` for each reconstructed session.
    """

    explode: ExplodeSpec | None = Field(None, description="one event per token of a sequence column")
    head_is_user: bool = Field(True, description="sequences format: the first token of a line is the user id")
    user_id: FieldRef = Field(description="who acted")
    item_id: FieldRef | None = Field(None, description="what was acted on")
    time: TimeSpec | None = Field(None, description="when; without it, input order is the time order")
    action: ActionSpec = Field(description="what was done")
    category: FieldRef | None = Field(None, description="item category")
    dwell_s: FieldRef | None = Field(None, description="dwell time in seconds")
    amount: FieldRef | None = Field(None, description="money amount")
    device: FieldRef | None = Field(None, description="device / client id")
    session_id: FieldRef | None = Field(None, description="session id given by the log")
    text: FieldRef | None = Field(None, description="free text: search query, review")
    attrs: dict[str, FieldRef] = Field(default_factory=dict, description="any extra attribute: name → field")
    split: Literal["train", "valid", "test"] | None = Field(
        None, description="with split kind 'given': the split of every event of this source"
    )

    @field_validator("format")
    @classmethod
    def _events_format(cls, value: str) -> str:
        if value == "json_object":
            raise ValueError("json_object is a side-table format (items, users); events need one row each")
        return value


class ItemTable(_TableSource):
    """Item side information joined to events by item id (category, attributes)."""

    item_id: FieldRef = Field(description="item id, as in the events")
    category: FieldRef | None = Field(None, description="item category (used where events have none)")
    attrs: dict[str, FieldRef] = Field(
        default_factory=dict,
        description="extra item attributes; a list value (a brand and categories) is kept as a list",
    )


class UserTable(_TableSource):
    """Static user attributes (age, region, ...), kept beside the events for segment-aware models."""

    user_id: FieldRef = Field(description="user id, as in the events")
    attrs: dict[str, FieldRef] = Field(default_factory=dict, description="user attributes")


Instant = dt.datetime | int | float
"""An instant: ISO-8601 text (read as UTC unless it has an offset) or epoch seconds."""


class TimeWindow(_Strict):
    start: Instant | None = Field(None, description="keep events at or after this instant")
    end: Instant | None = Field(None, description="keep events before this instant")


class KCore(_Strict):
    users: int = Field(5, ge=1, description="every kept user has at least this many events")
    items: int = Field(5, ge=1, description="every kept item has at least this many events")


class CleaningConfig(_Strict):
    """Cleaning steps; each drop is counted by reason in ``stats.json``."""

    time_window: TimeWindow | None = Field(None, description="drop events outside [start, end)")
    dedup_within_s: float | None = Field(
        0.0, ge=0, description="drop an event repeating the same user/item/action within N s (null: off)"
    )
    min_dwell_s: float | None = Field(1.0, ge=0, description="drop misclicks: dwell below this (null: off)")
    misclick_actions: list[str] = Field(
        default_factory=lambda: ["view", "click"], description="actions the misclick rule applies to"
    )
    missing_item: Literal["keep", "drop"] = Field("keep", description="events without an item: keep or drop")
    kcore: KCore | None = Field(None, description="iterative k-core filter (benchmarks)")

    @field_validator("misclick_actions")
    @classmethod
    def _canonical(cls, value: list[str]) -> list[str]:
        for action in value:
            _check_canonical(action, "misclick_actions")
        return value


class SessionConfig(_Strict):
    gap_s: float = Field(1800.0, gt=0, description="a new session starts after this many idle seconds")


class SplitConfig(_Strict):
    """How events are split into train / valid / test (stored per event in the Dataset)."""

    kind: Literal["leave_one_out", "temporal", "by_user", "given"] = Field(
        "leave_one_out",
        description="leave_one_out: last event → test, second to last → valid; temporal: by time cuts; "
        "by_user: whole users by fractions; given: each source's 'split'",
    )
    valid_start: Instant | None = Field(None, description="temporal: first instant of valid")
    test_start: Instant | None = Field(None, description="temporal: first instant of test")
    fractions: tuple[float, float, float] = Field((0.8, 0.1, 0.1), description="by_user: train/valid/test")
    seed: int = Field(0, description="by_user: seed of the user assignment")

    @model_validator(mode="after")
    def _check(self) -> SplitConfig:
        if self.kind == "temporal" and self.test_start is None:
            raise ValueError("kind 'temporal' needs 'test_start' (and usually 'valid_start')")
        if self.kind == "by_user" and (abs(sum(self.fractions) - 1.0) > 1e-9 or min(self.fractions) < 0):
            raise ValueError(
                f"'fractions' must be three non-negative numbers summing to 1 (got {self.fractions})"
            )
        return self


class DatasetConfig(_Strict):
    """Everything ingest needs to turn a raw log into a Dataset."""

    name: str = Field(description="dataset name, recorded in the manifest")
    description: str = Field("", description="one line on what the data is")
    sources: Annotated[list[SourceConfig], Field(min_length=1)] = Field(
        description="input files and mappings"
    )
    items: ItemTable | None = Field(None, description="item side table")
    users: UserTable | None = Field(None, description="user side table")
    cleaning: CleaningConfig = Field(default_factory=CleaningConfig, description="cleaning steps")
    sessions: SessionConfig = Field(default_factory=SessionConfig, description="sessionisation")
    split: SplitConfig = Field(default_factory=SplitConfig, description="train / valid / test split")
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="bad rows: fail with an error naming the row, or skip them (counted)"
    )

    @model_validator(mode="after")
    def _check(self) -> DatasetConfig:
        if self.split.kind == "given" and all(s.split is None for s in self.sources):
            raise ValueError("split kind 'given' needs a 'split' on at least one source")
        if self.split.kind == "temporal" and any(s.time is None for s in self.sources):
            raise ValueError("split kind 'temporal' needs 'time' on every source")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-able data; ``DatasetConfig.model_validate`` of it is the same config."""
        return self.model_dump(mode="json")


def _loc_to_key(loc: tuple[Any, ...]) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part in ("str", "FieldSource", "function-after[_exactly_one(), FieldSource]"):
            continue  # union branch names pydantic adds to the location
        else:
            key += ("." if key else "") + str(part)
    return key


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config model that owns the last key of ``loc`` (for 'did you mean' candidates)."""
    model: Any = DatasetConfig
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        ann = field.annotation
        model = None
        for candidate in getattr(ann, "__args__", (ann,)):
            inner = getattr(candidate, "__args__", (candidate,))
            for c in (candidate, *inner):
                if isinstance(c, type) and issubclass(c, BaseModel):
                    model = c
                    break
            if model is not None:
                break
    return model


def config_error_from(exc: ValidationError, file: str | None = None) -> ConfigError:
    """Turn pydantic's error into one :class:`ConfigError` naming the first bad key."""
    problems = []
    first: ConfigError | None = None
    for err in exc.errors():
        key = _loc_to_key(err["loc"])
        if err["type"] == "extra_forbidden":
            owner = _model_at(err["loc"])
            valid = list(owner.model_fields) if owner is not None else []
            name = str(err["loc"][-1])
            msg = "unknown key"
            cands = close_names(name, valid) if valid else None
        else:
            msg = err["msg"].removeprefix("Value error, ")
            cands = None
        problems.append(f"{key or '(top level)'}: {msg}")
        if first is None:
            first = ConfigError(msg, file=file, key=key or None, candidates=cands)
    assert first is not None
    if len(problems) > 1:
        first = ConfigError(
            first.message + f" (and {len(problems) - 1} more: " + "; ".join(problems[1:4]) + ")",
            file=first.file,
            key=first.key,
            candidates=first.candidates,
        )
    return first


def load_config(source: str | Path | dict[str, Any]) -> DatasetConfig:
    """Read and validate a dataset config from a YAML file or a dict.

    Raises
    ------
    ConfigError
        If the file is missing or not YAML, or a key is unknown, missing or of the wrong type.
    """
    file = None
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        file = str(path)
        if not path.is_file():
            raise ConfigError(
                "config file not found", file=file, fix="give the path of a YAML config or --preset NAME"
            )
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ConfigError(
                f"not valid YAML: {getattr(exc, 'problem', exc)}",
                file=file,
                line=None if mark is None else mark.line + 1,
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(
                "a config must be a YAML mapping (key: value lines)", file=file, value=type(data).__name__
            )
    try:
        return DatasetConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, file) from None
