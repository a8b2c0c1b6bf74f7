"""``seqintent train`` as one function: the next-item model, then its intent heads.

:func:`train_model` reads like the command: train the encoder on next items (self-supervised), then
fine-tune the intent heads wherever the log supports their labels (``finetune`` / ``heads``), or
train both jointly from scratch (``joint``). Without an ``intents:`` section the default labels
are used, and a log that supports none of them keeps the next-item model (the reason is recorded
in ``metrics["intents"]["skipped"]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seqintent.data import Dataset
from seqintent.errors import ConfigError, DataError
from seqintent.models.config import NextItemConfig
from seqintent.models.intent_config import IntentConfig
from seqintent.models.model import NextItemModel
from seqintent.train.loop import train_next_item
from seqintent.train.multitask import train_intents


def train_model(
    dataset: Dataset,
    config: NextItemConfig | None = None,
    intents: dict[str, Any] | None = None,
    *,
    with_intents: bool = True,
    out: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    tensorboard: str | Path | None = None,
    config_file: str | Path | None = None,
) -> NextItemModel:
    """Train the next-item model and (``with_intents``) its intent heads; save the Model at ``out``.

    Parameters
    ----------
    config:
        The next-item config (``model:`` / ``train:``).
    intents:
        The ``intents:`` section of the training config (None: defaults; see
        :class:`~seqintent.models.intent_config.IntentConfig`).
    config_file:
        Where the sections came from, for error messages.

    Raises
    ------
    ConfigError, DataError
        When an explicit ``intents:`` section names labels the log cannot answer; as
        :func:`~seqintent.train.train_next_item` otherwise.
    """
    config = config or NextItemConfig()
    intent_config = IntentConfig.load(intents, file=None if config_file is None else str(config_file))
    if with_intents and intent_config.train.mode == "joint":
        return train_intents(
            dataset, intent_config, next_item_config=config, out=out, overwrite=overwrite, progress=progress
        )
    model = train_next_item(
        dataset,
        config,
        out=out,
        overwrite=overwrite,
        resume=resume,
        progress=progress,
        tensorboard=tensorboard,
    )
    if not with_intents:
        return model
    try:
        return train_intents(dataset, intent_config, model=model, out=out, overwrite=True, progress=progress)
    except (ConfigError, DataError) as exc:
        if intents is not None:
            raise
        model.metrics["intents"] = {"skipped": exc.message}
        if out is not None:
            model.save_pretrained(out, overwrite=True)
        return model
