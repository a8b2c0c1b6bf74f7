"""The training loop: AdamW with warm-up, validation NDCG@10 every epoch, early stopping, resume.

``train_next_item(dataset, config, out=...)`` is the whole pipeline; ``seqintent train`` is a thin
wrapper around it. It is deterministic under ``config.train.seed`` (weights, window order, dropout,
sampled negatives), keeps the best epoch's weights, and after every epoch writes a resumable
checkpoint next to the output folder (``MODEL.checkpoint/``), removed once the Model is saved.
"""

from __future__ import annotations

import copy
import ctypes
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from tqdm.auto import tqdm

from seqintent._compat import require
from seqintent.data import Dataset, read_json, write_json
from seqintent.errors import ArtifactError, ConfigError, DataError
from seqintent.models.base import HistoryBatch
from seqintent.models.batching import gather_tokens, history_rows
from seqintent.models.config import NextItemConfig, TrainConfig
from seqintent.models.features import EventTokens, InputSpec
from seqintent.models.item_attributes import item_attribute_codes
from seqintent.models.model import SAVED_VOCABULARIES, NextItemModel, important_events
from seqintent.models.network import NextItemNetwork
from seqintent.models.ranking import action_indices, per_example_metrics, target_ranks
from seqintent.schema.columns import ModelFiles
from seqintent.train.objectives import NextItemObjective
from seqintent.train.priors import clear_priors, fit_priors, install_priors
from seqintent.train.windows import TrainingPlan, learned_events, next_item_plan, plan_training, window_stride

CHECKPOINT_STATE = "state.pt"
CHECKPOINT_CONFIG = "config.json"
VALID_KS = (10, 20)


@dataclass
class _State:
    """Everything that changes during training (what a checkpoint holds)."""

    epoch: int = 0
    step: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    seconds: float = 0.0
    seconds_to_best: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_weights: dict[str, torch.Tensor] | None = None


def checkpoint_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ModelFiles.CHECKPOINT_SUFFIX)


def train_next_item(
    dataset: Dataset,
    config: NextItemConfig | None = None,
    *,
    out: str | Path | None = None,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = False,
    tensorboard: str | Path | None = None,
) -> NextItemModel:
    """Train the next-item Transformer on ``dataset`` and (with ``out``) save the Model folder.

    Parameters
    ----------
    dataset:
        Training reads its ``train`` events; early stopping its ``valid`` events (or held-out
        training events when it has none).
    config:
        Hyper-parameters; defaults when None.
    out:
        Model folder to write. Also where the checkpoint lives (``out + ".checkpoint"``).
    overwrite:
        Replace an existing Model folder at ``out``.
    resume:
        Continue from the checkpoint of an interrupted run with the same config and Dataset.
    progress:
        Show progress bars (epoch and step, with ETA, loss and validation metrics) on stderr.
    tensorboard:
        Folder for TensorBoard logs (needs ``seqintent[tensorboard]``).

    Returns
    -------
    NextItemModel
        The model with the best validation weights.

    Raises
    ------
    DataError
        If the Dataset has nothing to learn from (no training sequence of 2 events with items).
    ArtifactError
        If ``out`` exists and not ``overwrite``, or ``resume`` finds no matching checkpoint.
    """
    config = config or NextItemConfig()
    tcfg = config.train
    if out is not None:
        _check_output(Path(out), overwrite)
    threads = torch.get_num_threads()
    torch.set_num_threads(tcfg.threads)
    keep_freed_memory()
    try:
        return _Training(dataset, config, out, overwrite, resume, progress, tensorboard).run()
    finally:
        torch.set_num_threads(threads)


class _Training:
    def __init__(
        self,
        dataset: Dataset,
        config: NextItemConfig,
        out: str | Path | None,
        overwrite: bool,
        resume: bool,
        progress: bool,
        tensorboard: str | Path | None,
    ) -> None:
        self.dataset, self.config, self.overwrite, self.progress = dataset, config, overwrite, progress
        self.out = None if out is None else Path(out)
        self.ckpt = None if out is None else checkpoint_dir(out)
        mcfg, tcfg = config.model, config.train
        self.item_attributes = item_attribute_codes(dataset, mcfg.item_attributes, mcfg.item_attribute_slots)
        self.spec = InputSpec.from_dataset(dataset, self.item_attributes)
        self.tokens = EventTokens.from_dataset(dataset, self.spec)
        self.stride = window_stride(config)
        self.target_actions = action_indices(dataset, tcfg.target_actions)
        self.plan: TrainingPlan = next_item_plan(self.tokens, config, self.target_actions, dataset)
        if self.plan.n_windows == 0:
            raise DataError(
                "no training sequence has 2 events: nothing to learn from",
                file=str(dataset.path),
                fix="check the Dataset's split (seqintent stats) or ingest more events",
            )
        if tcfg.select_with_priors and not (mcfg.transition_prior or mcfg.neighbour_prior):
            raise ConfigError(
                "selection with the priors needs a model with at least one prior",
                key="train.select_with_priors",
                fix="set model.transition_prior (e.g. 32) or model.neighbour_prior (e.g. 200), or "
                "train.select_with_priors: false",
            )
        self.valid_targets = self.plan.valid_targets
        # the cosine schedule is sized to `epochs` full passes; each pass has the same number of batches
        self.total_steps = tcfg.epochs * -(-self.plan.n_windows // tcfg.batch_size)
        self.important = important_events(self.tokens, mcfg)
        self.learned = learned_events(self.tokens)  # the events whose items are targets
        self.item_counts = self._item_counts()
        self._start_network()
        self.state = _State()
        if resume:
            self._load_checkpoint()
        self.writer = None
        if tensorboard is not None:
            tb = require("torch.utils.tensorboard", "TensorBoard logs")
            self.writer = tb.SummaryWriter(str(tensorboard))

    def _item_counts(self) -> np.ndarray:
        """Learned events per item (the sampled softmax's logQ correction)."""
        items = self.tokens.item[self.learned & (self.tokens.item > 0)]
        return np.bincount(items, minlength=self.spec.n_items)

    def _start_network(self) -> None:
        """Fresh weights, optimiser and sampling generator from the seed (a refit starts as selection did)."""
        tcfg = self.config.train
        torch.manual_seed(tcfg.seed)
        self.network = NextItemNetwork(self.config.model, self.spec, self.item_attributes)
        self.optimizer = _adamw(self.network, tcfg.lr, tcfg.weight_decay)
        self.generator = torch.Generator().manual_seed(tcfg.seed)
        self.objective = NextItemObjective(tcfg.loss, tcfg.negatives, self.item_counts, self.generator)

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> NextItemModel:
        tcfg = self.config.train
        start = time.perf_counter() - self.state.seconds
        epochs = tqdm(
            total=tcfg.epochs,
            initial=self.state.epoch,
            desc="training",
            unit="epoch",
            disable=not self.progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        stopped_by = "epochs"
        while self.state.epoch < tcfg.epochs:
            epoch = self.state.epoch + 1
            t0 = time.perf_counter()
            loss, targets = self._train_epoch(epoch)
            record: dict[str, Any] = {
                "epoch": epoch,
                "loss": round(loss, 5),
                "targets": targets,
                "train_s": round(time.perf_counter() - t0, 3),
            }
            if epoch % tcfg.eval_every == 0 or epoch == tcfg.epochs:
                t1 = time.perf_counter()
                metrics = self._validate_epoch(record)
                record["valid_s"] = round(time.perf_counter() - t1, 3)
                record["valid"] = metrics
                score = metrics[tcfg.valid_metric]
                if score > self.state.best_score:
                    self.state.best_score, self.state.best_epoch, self.state.bad_epochs = score, epoch, 0
                    self.state.best_weights = copy.deepcopy(self.network.state_dict())
                    self.state.seconds_to_best = time.perf_counter() - start
                else:
                    self.state.bad_epochs += tcfg.eval_every
            self.state.epoch = epoch
            self.state.seconds = time.perf_counter() - start
            self.state.history.append(record)
            self._log(record, epochs)
            self._save_checkpoint()
            if self.state.bad_epochs >= tcfg.patience:
                stopped_by = "early_stopping"
                break
            if tcfg.max_minutes is not None and self.state.seconds > 60 * tcfg.max_minutes:
                stopped_by = "time_budget"
                break
        epochs.close()
        if self.state.best_weights is not None:
            self.network.load_state_dict(self.state.best_weights)
        metrics = self._metrics(stopped_by)
        metrics.update(self._fit_priors())
        if tcfg.refit:
            metrics["refit"] = self._refit(metrics)
        model = self._model(metrics)
        if self.out is not None:
            model.save_pretrained(self.out, overwrite=self.overwrite)
            if self.ckpt is not None:
                shutil.rmtree(self.ckpt, ignore_errors=True)
        if self.writer is not None:
            self.writer.close()
        return model

    def _refit(self, selection: dict[str, Any]) -> dict[str, Any]:
        """Train afresh on every training event for the best epoch's count, then count the priors
        on them at the weights validation chose; the record of what the refit did.

        Every training event: the ones validation held out of the training split, or, where the
        Dataset has a ``valid`` split of its own (leave-one-out), that split's events too (each
        user's second-to-last event becomes a target, and its transition counts in the priors).

        The network, the window order, the dropout and the sampled negatives start from the seed as
        selection's did, and the cosine schedule is sized the same way (``epochs`` passes of the
        larger epoch), so the refit's first ``best_epoch`` epochs follow selection's learning rates.
        Nothing is validated (no target is left out), and no checkpoint is written: a run resumed
        during the refit starts it again from selection's last checkpoint.
        """
        tcfg, mcfg = self.config.train, self.config.model
        started = time.perf_counter()
        # no validation ran before training stopped (a budget shorter than eval_every): selection kept
        # its last weights, so the refit trains as many epochs
        epochs = self.state.best_epoch or self.state.epoch
        through_valid = not self.plan.valid_held_out
        self.plan = plan_training(
            self.tokens,
            mcfg.max_len + 1,
            self.stride,
            valid_fraction=0.0,
            seed=tcfg.seed,
            actions=self.target_actions,
            through_valid=through_valid,
        )
        if through_valid:
            self.learned = learned_events(self.tokens, through_valid=True)
            self.item_counts = self._item_counts()
        self.total_steps = tcfg.epochs * -(-self.plan.n_windows // tcfg.batch_size)
        self._start_network()
        self.state.step = 0  # the schedule restarts; nothing reads selection's step after this
        history = []
        bar = tqdm(total=epochs, desc="refit", unit="epoch", disable=not self.progress, file=sys.stderr)
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            loss, targets = self._train_epoch(epoch)
            history.append(
                {
                    "epoch": epoch,
                    "loss": round(loss, 5),
                    "targets": targets,
                    "train_s": round(time.perf_counter() - t0, 3),
                }
            )
            bar.set_postfix(loss=f"{loss:.4f}")
            bar.update()
        bar.close()
        priors = {
            name: selection[name] for name in ("transition_prior", "neighbour_prior") if name in selection
        }
        install_priors(self._model(), self.tokens, self.plan.trained_events(self.tokens), priors)
        return {
            "epochs": epochs,
            "trained_on": ["train", "valid"] if through_valid else ["train"],
            "train_windows": self.plan.n_windows,
            "priors_counted_at": {name: _chosen(record) for name, record in priors.items()},
            "seconds": round(time.perf_counter() - started, 3),
            "history": history,
        }

    def _train_epoch(self, epoch: int) -> tuple[float, int]:
        """One pass over the training windows: (mean loss, number of targets)."""
        tcfg, mcfg = self.config.train, self.config.model
        self.network.train()
        batches = _length_buckets(
            self.plan, mcfg.max_len + 1, tcfg.batch_size, np.random.default_rng([tcfg.seed, epoch])
        )
        bar = tqdm(
            total=len(batches),
            desc=f"epoch {epoch}",
            leave=False,
            disable=not self.progress,
            file=sys.stderr,
            dynamic_ncols=True,
        )
        total, count = 0.0, 0
        for pick in batches:
            rows = history_rows(
                self.plan.window_start[pick],
                self.plan.window_end[pick],
                mcfg.max_len + 1,
                important=self.important,
                slots=mcfg.important_slots,
            )
            rows = rows[
                :, int(np.argmax((rows >= 0).any(axis=0))) :
            ]  # drop columns that are padding in every row
            batch = self._batch(rows)
            if batch is None:
                bar.update()
                continue
            inputs, b_idx, t_idx, targets = batch
            rate = learning_rate(tcfg, self.state.step, self.total_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = rate
            loss = self._loss(inputs, b_idx, t_idx, targets)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if tcfg.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(self.network.parameters(), tcfg.grad_clip)
            self.optimizer.step()
            self.state.step += 1
            value = float(loss.detach())
            total += value * len(targets)
            count += len(targets)
            bar.set_postfix(loss=f"{value:.4f}")
            bar.update()
        bar.close()
        return total / max(count, 1), count

    def _batch(
        self, rows: np.ndarray
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor] | None:
        tok = self.tokens
        inp, nxt = rows[:, :-1], rows[:, 1:]
        safe_next = np.where(nxt >= 0, nxt, 0)
        ok = (inp >= 0) & (nxt == inp + 1) & (tok.item[safe_next] > 0) & self.learned[safe_next]
        if self.target_actions is not None:
            ok &= np.isin(tok.action[safe_next], self.target_actions)
        # overlapping windows (stride < max_len): each window trains only its newest `stride` targets,
        # so every target counts once per epoch and has at least max_len - stride events of context
        ok[:, : max(0, ok.shape[1] - self.stride)] = False
        b_idx, t_idx = np.nonzero(ok)
        if len(b_idx) == 0:
            return None
        next_time = tok.time_s[np.where(rows[:, -1] >= 0, rows[:, -1], 0)]
        inputs = gather_tokens(tok, inp, next_time)
        targets = torch.from_numpy(tok.item[safe_next[b_idx, t_idx]])
        return inputs, torch.from_numpy(b_idx), torch.from_numpy(t_idx), targets

    def _loss(
        self, inputs: dict[str, torch.Tensor], b_idx: torch.Tensor, t_idx: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.network.encoder(**inputs)  # [B, L, H]
        return self.objective(self.network.next_item, hidden, inputs, b_idx, t_idx, targets)

    # --- validation ----------------------------------------------------------------------------

    def _model(self, metrics: dict[str, Any] | None = None) -> NextItemModel:
        vocabs = {name: self.dataset.vocab(name) for name in SAVED_VOCABULARIES}
        return NextItemModel(
            self.network,
            self.config,
            self.spec,
            vocabs=vocabs,
            dataset_manifest=self.dataset.manifest,
            metrics=metrics,
        )

    def _fit_priors(self) -> dict[str, dict[str, Any]]:
        """Count the priors where training read and weigh them on the validation targets."""
        counted = self.plan.trained_events(self.tokens)
        metric = self.config.train.prior_weighing_metric
        records = fit_priors(self._model(), self.tokens, counted, self.valid_targets, metric=metric)
        self.network.train()
        return records

    def _validate_epoch(self, record: dict[str, Any]) -> dict[str, float]:
        """The figures early stopping watches: the network's own, or with ``select_with_priors`` the
        network with both priors fitted to it (then the network's own land in
        ``record["valid_network"]`` and the priors' chosen weights in ``record["priors"]``)."""
        if not self.config.train.select_with_priors:
            return self.validate()
        clear_priors(self._model())
        record["valid_network"] = self.validate()
        record["priors"] = {name: _chosen(fit) for name, fit in self._fit_priors().items()}
        return self.validate()

    def validate(self) -> dict[str, float]:
        """HR / NDCG / MRR at 10 and 20 on the validation targets (full ranking)."""
        targets = self.valid_targets
        if len(targets) == 0:
            return {f"{m}@{k}": 0.0 for k in VALID_KS for m in ("HR", "NDCG", "MRR")}
        tok = self.tokens
        model = self._model()
        # shortest histories first, so each chunk is scored without most of its padding columns
        targets = targets[np.argsort(targets - tok.user_start[targets], kind="stable")]
        ranks = []
        for lo in range(0, len(targets), 1024):
            t = targets[lo : lo + 1024]
            batch = HistoryBatch(tok, tok.user_start[t], t, tok.time_s[t] if self.spec.has_time else None)
            ranks.append(target_ranks(model.score(batch), tok.item[t]))
        per = per_example_metrics(np.concatenate(ranks), VALID_KS)
        self.network.train()
        return {k: round(float(v.mean()), 5) for k, v in per.items()}

    # --- bookkeeping ---------------------------------------------------------------------------

    def _metrics(self, stopped_by: str) -> dict[str, Any]:
        s = self.state
        train_s = [r["train_s"] for r in s.history]
        best = next((r.get("valid") for r in s.history if r["epoch"] == s.best_epoch), None)
        return {
            "best_epoch": s.best_epoch,
            "best_valid": best,
            "valid_metric": self.config.train.valid_metric,
            "valid_examples": len(self.valid_targets),
            "valid_held_out_from_train": self.plan.valid_held_out,
            "epochs_run": s.epoch,
            "stopped_by": stopped_by,
            "train_windows": self.plan.n_windows,
            "train_seconds_per_epoch": round(float(np.mean(train_s)), 3) if train_s else None,
            "seconds_to_best": round(s.seconds_to_best, 3),
            "seconds_total": round(s.seconds, 3),
            "threads": self.config.train.threads,
            "history": s.history,
        }

    def _log(self, record: dict[str, Any], bar: tqdm) -> None:
        valid = record.get("valid", {})
        bar.set_postfix(
            loss=f"{record['loss']:.4f}",
            **{k: f"{v:.4f}" for k, v in valid.items() if k.endswith("@10")},
            best=f"{self.state.best_score:.4f}@{self.state.best_epoch}",
        )
        bar.update()
        if self.writer is not None:
            self.writer.add_scalar("train/loss", record["loss"], record["epoch"])
            self.writer.add_scalar("train/seconds", record["train_s"], record["epoch"])
            for k, v in valid.items():
                self.writer.add_scalar(f"valid/{k}", v, record["epoch"])

    def _save_checkpoint(self) -> None:
        if self.ckpt is None:
            return
        self.ckpt.mkdir(parents=True, exist_ok=True)
        write_json(
            self.ckpt / CHECKPOINT_CONFIG, {"config": self.config.to_dict(), "dataset": self._dataset_key()}
        )
        s = self.state
        body = {
            "network": self.network.state_dict(),
            "best_weights": s.best_weights,
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "generator": self.generator.get_state(),
            "numbers": {
                k: getattr(s, k)
                for k in (
                    "epoch",
                    "step",
                    "best_score",
                    "best_epoch",
                    "bad_epochs",
                    "seconds",
                    "seconds_to_best",
                )
            },
            "history": s.history,
        }
        tmp = self.ckpt / (CHECKPOINT_STATE + ".tmp")
        torch.save(body, tmp)
        os.replace(tmp, self.ckpt / CHECKPOINT_STATE)

    def _dataset_key(self) -> dict[str, Any]:
        m = self.dataset.manifest
        return {"name": m.get("name"), "counts": m.get("counts"), "source": m.get("source")}

    def _load_checkpoint(self) -> None:
        if self.ckpt is None:
            raise ArtifactError(
                "resume needs an output folder", fix="pass -o MODEL (the folder of the interrupted run)"
            )
        path = self.ckpt / CHECKPOINT_STATE
        if not path.is_file():
            raise ArtifactError(
                "no checkpoint to resume from",
                file=str(self.ckpt),
                fix="run without --resume to start afresh",
            )
        saved = read_json(self.ckpt / CHECKPOINT_CONFIG)
        fix = "resume with the same --config and Dataset, or run without --resume"
        if saved.get("dataset") != self._dataset_key():
            raise ArtifactError("the checkpoint was made on another Dataset", file=str(self.ckpt), fix=fix)
        try:
            # read as this version reads a saved config: keys added since it was written are no change
            differences = NextItemConfig.from_saved(saved.get("config", {})).differences(self.config)
        except ValidationError as exc:
            differences = [f"unreadable ({exc.errors()[0]['msg']})"]
        if differences:
            more = f" (and {len(differences) - 5} more)" if len(differences) > 5 else ""
            shown = "; ".join(differences[:5]) + more
            raise ArtifactError(
                f"the checkpoint was made with another config (checkpoint vs now: {shown})",
                file=str(self.ckpt),
                fix=fix,
            )
        body = torch.load(path, weights_only=True)
        self.network.load_state_dict(body["network"])
        self.optimizer.load_state_dict(body["optimizer"])
        torch.set_rng_state(body["torch_rng"])
        self.generator.set_state(body["generator"])
        for k, v in body["numbers"].items():
            setattr(self.state, k, v)
        self.state.history = body["history"]
        self.state.best_weights = body["best_weights"]


def learning_rate(train: TrainConfig, step: int, total_steps: int) -> float:
    """The learning rate of optimiser step ``step`` (0-based) out of ``total_steps``.

    Linear warm-up over ``warmup_steps``, then the peak (``constant``) or a cosine from the peak
    down to ``min_lr_ratio`` x peak, reached at the last step (``cosine``). A pure function of the
    step, so resuming from a checkpoint (which stores the step) resumes the schedule too.
    """
    done = step + 1
    if done < train.warmup_steps:
        return train.lr * done / train.warmup_steps
    if train.lr_schedule == "constant":
        return train.lr
    span = max(1, total_steps - train.warmup_steps)
    progress = min(1.0, max(0.0, (done - train.warmup_steps) / span))
    floor = train.min_lr_ratio
    return train.lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _chosen(record: dict[str, Any]) -> dict[str, Any]:
    """The weights a prior's fit chose (its record without the grid and the figures)."""
    return {k: record[k] for k in ("weight", "epsilon") if k in record}


def _length_buckets(
    plan: TrainingPlan, window: int, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Batches of windows of similar length (random within a length), in random order.

    Short windows then share a batch, and the padding columns no row uses are dropped: on short
    sequences (Amazon, sessions) most of the encoder's work would otherwise be padding.
    """
    lengths = np.minimum(plan.window_end - plan.window_start, window)
    order = np.lexsort((rng.random(plan.n_windows), lengths))
    batches = [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def keep_freed_memory() -> None:
    """Ask glibc to keep freed large blocks instead of returning them to the OS.

    Every step allocates logit blocks of tens of megabytes; by default glibc maps and unmaps each,
    and the page faults of re-mapping cost more than the softmax itself (measured 2-4x on the
    element-wise steps). No-op where glibc is not the allocator.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, (1 << 31) - 1)
    libc.mallopt(m_top_pad, 1 << 28)


def _adamw(network: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW; weight decay only on the weight matrices of linear layers (not embeddings, norms, biases)."""
    decay, no_decay = [], []
    for module in network.modules():
        for name, param in module.named_parameters(recurse=False):
            (decay if isinstance(module, torch.nn.Linear) and name == "weight" else no_decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr)


def _check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ArtifactError("output path is a file, expected a folder", file=str(out))
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ArtifactError(
            "output folder exists and is not empty",
            file=str(out),
            fix="pass --overwrite or choose another -o",
        )
