"""Training intent heads on the shared encoder, beside the next-item objective.

Three ways (``intents.train.mode``):

``finetune`` (default)
    Start from a next-item model (pre-trained self-supervised, no labels: the seed's path), add the
    heads and train everything on the intent labels, keeping the next-item loss
    (``next_item_weight``) so next items stay good.
``heads``
    Freeze the encoder; train only the heads (cheapest; next items unchanged).
``joint``
    Train encoder and heads from scratch on next items and intents together.

Training data. Every training cut is one target: windows of ``max_len`` events are cut from each
user's history ``stride`` events apart (newest first) and each window trains only its newest
``stride`` positions, so every cut is trained once per epoch with at least ``max_len - stride``
events of context. At a position the heads read the intent pass (no "time to next event": that is
the answer to churn) and the next-item loss reads the usual pass. Early stopping watches the mean
validation AUC over the labels; probabilities are then calibrated on the validation cuts, and the
profile (popularity, segments, cold-start blend) is fitted.

:func:`train_intents` is the whole pipeline.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from tqdm.auto import tqdm

from seqintent.data import Dataset
from seqintent.errors import DataError
from seqintent.models.base import HistoryBatch
from seqintent.models.batching import gather_tokens, history_rows
from seqintent.models.calibration import calibrated_probabilities
from seqintent.models.config import NextItemConfig
from seqintent.models.features import FAMILY_NAMES, EventTokens, InputSpec
from seqintent.models.heads import IntentHeads, IntentNetwork, RecentEvents
from seqintent.models.inference import run_network
from seqintent.models.intent_config import IntentConfig, LabelSpec
from seqintent.models.intent_metrics import binary_metrics, class_metrics, roc_auc
from seqintent.models.intents import IntentState
from seqintent.models.item_attributes import ItemAttributeCodes, item_attribute_codes
from seqintent.models.model import SAVED_VOCABULARIES, NextItemModel, important_events
from seqintent.models.network import NextItemNetwork
from seqintent.schema.columns import Splits, Vocabularies
from seqintent.train.calibration import cross_fitted_probabilities, fit_calibration
from seqintent.train.labels import (
    CutLabels,
    CutPlan,
    compute_labels,
    default_labels,
    next_item_cuts,
    plan_cuts,
)
from seqintent.train.loop import keep_freed_memory
from seqintent.train.objectives import NextItemObjective
from seqintent.train.priors import fit_priors
from seqintent.train.profile import build_profile, choose_blend
from seqintent.train.windows import stride_windows

VALID_MAX_CUTS = 20000
SUMMARY_FIT_STEPS = 100  # L-BFGS iterations of the summary path's warm start
SUMMARY_FIT_L2 = 1e-4  # its ridge penalty (per weight, on standardised features)
VALID_MAX_NEXT_ITEM = 5000
COLD_SAMPLE_STREAM = 1  # seeds the cold-start cuts' sample apart from training's generator
WARMUP_STEPS = 50


@dataclass
class IntentData:
    """Cuts, labels and targets of a Dataset for the heads (computed once)."""

    tokens: EventTokens
    plan: CutPlan
    labels: CutLabels
    specs: list[LabelSpec]  # supported labels, in head order (classes first)
    dropped: dict[str, str]
    next_item_target: np.ndarray  # bool [n_events]: the event is a next-item training target
    n_actions: int
    n_families: int
    action_target: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    family_target: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    binary_target: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    @property
    def binary_specs(self) -> list[LabelSpec]:
        return [s for s in self.specs if not s.is_class]

    def has(self, kind: str) -> bool:
        return any(s.kind == kind for s in self.specs)

    def known_any(self) -> np.ndarray:
        """Events whose cut has at least one supported label."""
        known = np.zeros(self.tokens.n_events, dtype=bool)
        for spec in self.specs:
            known |= self.labels.known(spec.name)
        return known

    def cuts(self, split: str) -> np.ndarray:
        return np.flatnonzero((self.plan.split == Splits.code(split)) & self.known_any())


def prepare_intents(
    dataset: Dataset,
    config: IntentConfig,
    spec: InputSpec,
    *,
    next_item_before_test: bool = False,
) -> IntentData:
    """Cut the Dataset, compute labels and keep those it supports.

    A yes/no label is supported with at least ``train.min_examples`` positives and negatives among
    training cuts and both classes among validation cuts; a class label with that many training
    cuts. The others are listed in ``dropped`` with the reason.

    Parameters
    ----------
    next_item_before_test:
        Train the next-item loss only on events before the test cuts (time protocol), so the
        encoder never sees the test period (for clean benchmarks).
    """
    tokens = EventTokens.from_dataset(dataset, spec)
    specs = config.labels if config.labels is not None else default_labels(dataset)
    if not specs:
        raise DataError(
            "the Dataset supports none of the intent labels: no default label fits this log "
            "(a label needs several actions, or timestamps spanning three times its horizon)",
            file=str(dataset.path),
            fix="name labels the log can answer under intents.labels, or train without intents",
        )
    horizons = [s.horizon_s for s in specs if s.horizon_s is not None]
    if any(s.horizon == "session" for s in specs):
        horizons.append(2 * dataset.config.sessions.gap_s)
    plan = plan_cuts(dataset, tokens, config.protocol, max(horizons) if horizons else None)
    labels = compute_labels(dataset, tokens, specs, plan)
    train_split, valid_split = plan.split == Splits.TRAIN, plan.split == Splits.VALID
    need = config.train.min_examples
    kept, dropped = [], {}
    for s in specs:
        known = labels.known(s.name)
        values = labels.values[s.name]
        if s.is_class:
            n = int((known & train_split).sum())
            if n < need:
                dropped[s.name] = f"{n} training cuts (need {need})"
                continue
        else:
            pos = int(((values == 1) & known & train_split).sum())
            neg = int(((values == 0) & known & train_split).sum())
            vpos = int(((values == 1) & known & valid_split).sum())
            vneg = int(((values == 0) & known & valid_split).sum())
            if min(pos, neg) < need:
                dropped[s.name] = f"{pos} positive / {neg} negative training cuts (need {need} of each)"
                continue
            if min(vpos, vneg) < 1:
                dropped[s.name] = f"{vpos} positive / {vneg} negative validation cuts (need both)"
                continue
        kept.append(s)
    kept = [s for s in kept if s.is_class] + [s for s in kept if not s.is_class]
    n = tokens.n_events
    ni = (tokens.item > 0) & (tokens.split == Splits.TRAIN)
    ni &= np.arange(n) > tokens.user_start
    if next_item_before_test and plan.test_start_s is not None:
        ni &= tokens.time_s < plan.test_start_s
    # Validation users' events are no next-item targets: their next items choose the cold-start
    # kappa (and score pre-training), which memorised targets would make look far too good.
    ni &= ~np.isin(tokens.user, plan.valid_users)
    data = IntentData(
        tokens=tokens,
        plan=plan,
        labels=labels,
        specs=kept,
        dropped=dropped,
        next_item_target=ni,
        n_actions=len(dataset.vocab(Vocabularies.ACTIONS))
        if any(s.kind == "next_action" for s in kept)
        else 0,
        n_families=len(FAMILY_NAMES) + 1 if any(s.kind == "next_family" for s in kept) else 0,
    )
    data.action_target = _class_target(labels, kept, "next_action", n)
    data.family_target = _class_target(labels, kept, "next_family", n)
    binary = [labels.values[s.name] for s in data.binary_specs]
    data.binary_target = np.stack(binary, axis=1) if binary else np.zeros((n, 0), np.float32)
    return data


def _class_target(labels: CutLabels, specs: list[LabelSpec], kind: str, n: int) -> np.ndarray:
    spec = next((s for s in specs if s.kind == kind), None)
    return labels.values[spec.name] if spec is not None else np.full(n, -1, dtype=np.int64)


# --- the pipeline ----------------------------------------------------------------------------------


def train_intents(
    dataset: Dataset,
    config: IntentConfig | None = None,
    *,
    model: NextItemModel | None = None,
    next_item_config: NextItemConfig | None = None,
    next_item_before_test: bool = False,
    out: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> NextItemModel:
    """Train intent heads on ``dataset`` and return the Model (saved at ``out`` when given).

    Parameters
    ----------
    dataset:
        The Dataset; labels are cut from its events (see :mod:`seqintent.train.labels`).
    config:
        Labels, protocol, heads and optimisation (defaults when None).
    model:
        A trained next-item model to start from (``finetune`` / ``heads``). Without one, the
        encoder is first pre-trained on next items by this loop (``finetune`` / ``heads``) or
        trained jointly (``joint``) with ``next_item_config``.
    next_item_before_test:
        Restrict the next-item loss (pre-training included) to events before the test cuts.
    out, overwrite:
        Model folder to write.
    progress:
        Progress bars on stderr.

    Raises
    ------
    DataError
        If the Dataset supports none of the labels (the message lists why each was dropped).
    """
    config = config or IntentConfig()
    tcfg = config.train
    next_item_config = model.config if model is not None else (next_item_config or NextItemConfig())
    attributes = None
    if model is None:
        mcfg = next_item_config.model
        attributes = item_attribute_codes(dataset, mcfg.item_attributes, mcfg.item_attribute_slots)
    spec = model.spec if model is not None else InputSpec.from_dataset(dataset, attributes)
    if model is not None:
        model.check_dataset(dataset)
    data = prepare_intents(dataset, config, spec, next_item_before_test=next_item_before_test)
    if not data.specs:
        raise DataError(
            "the Dataset supports none of the intent labels: "
            + "; ".join(f"{k}: {v}" for k, v in data.dropped.items()),
            file=str(dataset.path),
            fix="give labels the log can answer (intents.labels), or train without intents",
        )
    threads = torch.get_num_threads()
    torch.set_num_threads(tcfg.threads)
    keep_freed_memory()
    try:
        trainer = _Trainer(dataset, data, config, next_item_config, spec, model, progress, attributes)
        result = trainer.run()
    finally:
        torch.set_num_threads(threads)
    if out is not None:
        result.save_pretrained(out, overwrite=overwrite)
    return result


class _Trainer:
    def __init__(
        self,
        dataset: Dataset,
        data: IntentData,
        config: IntentConfig,
        next_item_config: NextItemConfig,
        spec: InputSpec,
        model: NextItemModel | None,
        progress: bool,
        attributes: ItemAttributeCodes | None,
    ) -> None:
        self.dataset, self.data, self.config, self.progress = dataset, data, config, progress
        self.ni_config, self.spec, self.base = next_item_config, spec, model
        tcfg = config.train
        torch.manual_seed(tcfg.seed)
        mcfg = next_item_config.model
        self.network = model.network if model is not None else NextItemNetwork(mcfg, spec, attributes)
        recent = (
            RecentEvents(config.recent_events, spec.n_actions, spec.n_families, config.head_hidden)
            if config.recent_events
            else None
        )
        self.heads = IntentHeads(
            mcfg.hidden,
            config.head_hidden,
            data.n_actions,
            data.n_families,
            len(data.binary_specs),
            recent,
            summary_window=config.summary_events,
            summary_actions=spec.n_actions,
        )
        self.net = IntentNetwork(self.network, self.heads)
        self.important = important_events(data.tokens, mcfg)
        # the next-item loop's objective (its train.loss / negatives: sampled for large catalogues)
        self.objective = NextItemObjective(
            next_item_config.train.loss,
            next_item_config.train.negatives,
            np.bincount(data.tokens.item[data.next_item_target], minlength=spec.n_items),
            torch.Generator().manual_seed(tcfg.seed),
        )
        readable = mcfg.max_len - (mcfg.important_slots if self.important is not None else 0)
        self.stride = max(1, min(tcfg.window_stride or mcfg.max_len // 2, readable))
        self.train_cut = (data.plan.split == Splits.TRAIN) & data.known_any()
        # the summary of every training cut, computed once (rows in event order)
        train_events = np.flatnonzero(self.train_cut)
        self.summary_row = np.full(data.tokens.n_events, -1, dtype=np.int64)
        self.summary_row[train_events] = np.arange(len(train_events))
        self.train_summary = self.heads.summarize(
            data.tokens, data.tokens.user_start[train_events], train_events
        )
        if self.train_summary is not None:
            self.heads.fit_summary_scale(self.train_summary)
        self.positive_weight = torch.from_numpy(positive_weights(data.binary_target[self.train_cut], tcfg))
        rng = np.random.default_rng(tcfg.seed)
        valid = data.cuts("valid")
        if len(valid) > VALID_MAX_CUTS:
            valid = np.sort(rng.choice(valid, VALID_MAX_CUTS, replace=False))
        self.valid_cuts = valid
        self.valid_next = self._valid_next_item_cuts(rng)
        self.log: dict[str, Any] = {"phases": []}

    # --- phases ----------------------------------------------------------------------------------

    def run(self) -> NextItemModel:
        tcfg = self.config.train
        started = time.perf_counter()
        mode = tcfg.mode
        if self.base is None and mode in ("finetune", "heads"):
            self._phase("pretrain", intent_weight=0.0, next_item_weight=1.0, train_encoder=True)
        if mode == "heads":
            self._phase("heads", intent_weight=1.0, next_item_weight=0.0, train_encoder=False)
        else:
            self._phase(mode, intent_weight=1.0, next_item_weight=tcfg.next_item_weight, train_encoder=True)
        priors = self._fit_priors()  # before the profile, whose blend reads these scores
        calibration, calibration_report = self._calibrate()
        profile, profile_report = self._profile()
        self.log.update(
            {
                "mode": mode,
                "labels": [s.name for s in self.data.specs],
                "dropped_labels": self.data.dropped,
                "cuts": self.data.plan.describe(),
                "calibration": calibration_report,
                "profile": profile_report,
                "seconds_total": round(time.perf_counter() - started, 3),
            }
        )
        state = IntentState(self.config, self.data.specs, self.heads, calibration, profile, self.log)
        metrics = dict(self.base.metrics) if self.base is not None else {}
        metrics["intents"] = {k: v for k, v in self.log.items() if k != "phases"}
        metrics.update(priors)
        self.network.eval()
        self.heads.eval()
        return self._model(metrics, state)

    def _model(
        self, metrics: dict[str, Any] | None = None, intents: IntentState | None = None
    ) -> NextItemModel:
        """The network (and heads) as a Model, vocabularies and manifest of this Dataset."""
        vocabs = {name: self.dataset.vocab(name) for name in SAVED_VOCABULARIES}
        return NextItemModel(
            self.network,
            self.ni_config,
            self.spec,
            vocabs=vocabs,
            dataset_manifest=self.dataset.manifest,
            metrics=metrics,
            intents=intents,
        )

    def _fit_priors(self) -> dict[str, dict[str, Any]]:
        """Fit the next-item head's priors for this encoder (fine-tuning moved the ones they were
        weighed for; joint training never had them): counted on this loop's own next-item targets
        (none after the test start, none of validation users) and weighed on the validation users'
        next items, so nothing held out leaks into them."""
        training = self.network.training
        records = fit_priors(
            self._model(),
            self.data.tokens,
            self.data.next_item_target,
            self.valid_next + 1,
            metric=self.ni_config.train.prior_weighing_metric,
        )
        self.network.train(training)
        return records

    def _phase(
        self, name: str, *, intent_weight: float, next_item_weight: float, train_encoder: bool
    ) -> None:
        tcfg = self.config.train
        epochs = tcfg.pretrain_epochs if name == "pretrain" and tcfg.pretrain_epochs else tcfg.epochs
        for p in self.network.parameters():
            p.requires_grad_(train_encoder)
        groups = [{"params": list(self.heads.parameters()), "lr": tcfg.lr}]
        if train_encoder:
            enc_lr = tcfg.encoder_lr if (name == "finetune") else tcfg.lr
            groups.append({"params": list(self.network.parameters()), "lr": enc_lr})
        for g in groups:
            g["base_lr"] = g["lr"]
        optimizer = torch.optim.AdamW(groups, weight_decay=tcfg.weight_decay)
        windows = self._windows(intents=intent_weight > 0, next_item=next_item_weight > 0)
        score_fn = self._intent_score if intent_weight > 0 else self._next_item_score
        best, best_epoch, bad, step = -np.inf, 0, 0, 0
        best_state = None
        history = []
        fitted_detail: dict[str, float] | None = None
        if intent_weight > 0 and self.train_summary is not None:
            # start from the logistic regression on the summary, and keep it unless an epoch beats it
            self.log["summary_fit"] = self._fit_summary_path()
            self.heads.keep_fitted_path()
            best, detail = score_fn()
            self.log["summary_fit"]["valid_score"] = round(best, 5)
            self.log["summary_fit"]["valid"] = detail
            fitted_detail = detail
            best_state = (copy.deepcopy(self.network.state_dict()), copy.deepcopy(self.heads.state_dict()))
        t_start = time.perf_counter()
        bar = tqdm(total=epochs, desc=name, unit="epoch", disable=not self.progress, file=sys.stderr)
        stopped_by = "epochs"
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            self.network.train(train_encoder)
            self.heads.train()
            losses = []
            for batch in _batches(
                windows,
                tcfg.batch_size,
                self.ni_config.model.max_len,
                np.random.default_rng([tcfg.seed, epoch, len(history)]),
            ):
                for g in optimizer.param_groups:
                    g["lr"] = g["base_lr"] * min(1.0, (step + 1) / WARMUP_STEPS)
                loss = self._loss(batch, intent_weight, next_item_weight, train_encoder)
                if loss is None:
                    continue
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_([p for g in groups for p in g["params"]], 1.0)
                optimizer.step()
                step += 1
                losses.append(float(loss.detach()))
            train_s = time.perf_counter() - t0
            score, detail = score_fn()
            record = {
                "epoch": epoch,
                "loss": round(float(np.mean(losses)) if losses else float("nan"), 5),
                "train_s": round(train_s, 3),
                "valid_score": round(score, 5),
                "valid": detail,
            }
            history.append(record)
            if score > best + 1e-6:
                best, best_epoch, bad = score, epoch, 0
                best_state = (
                    copy.deepcopy(self.network.state_dict()),
                    copy.deepcopy(self.heads.state_dict()),
                )
            else:
                bad += 1
            bar.set_postfix(loss=record["loss"], valid=f"{score:.4f}", best=f"{best:.4f}@{best_epoch}")
            bar.update()
            if bad >= tcfg.patience:
                stopped_by = "early_stopping"
                break
            if tcfg.max_minutes is not None and time.perf_counter() - t_start > 60 * tcfg.max_minutes:
                stopped_by = "time_budget"
                break
        bar.close()
        if best_state is not None:
            self.network.load_state_dict(best_state[0])
            self.heads.load_state_dict(best_state[1])
        fallback = None
        if fitted_detail is not None and best_epoch > 0:
            fallback = self._fall_back_to_fitted_path(fitted_detail, history[best_epoch - 1]["valid"])
            kept = [v for v in fallback["valid"].values() if np.isfinite(v)]
            best = float(np.mean(kept)) if kept else best
        for p in self.network.parameters():
            p.requires_grad_(True)
        self.log["phases"].append(
            {
                **({"fitted_path_fallback": fallback} if fallback is not None else {}),
                "phase": name,
                "best_epoch": best_epoch,
                "best_valid_score": round(float(best), 5),
                "epochs_run": len(history),
                "stopped_by": stopped_by,
                "seconds_per_epoch": round(float(np.mean([h["train_s"] for h in history])), 3)
                if history
                else None,
                "history": history,
            }
        )

    def _fall_back_to_fitted_path(self, fitted: dict[str, float], tuned: dict[str, float]) -> dict[str, Any]:
        """Answer each label whose validation AUC fine-tuning did not beat with the fitted summary
        path alone (per label: the heads share a trunk, so the best epoch is one for all labels, and
        on KuaiRand churn the fitted path stays ahead while like and long view gain)."""
        assert self.heads.use_fitted is not None
        columns = torch.zeros_like(self.heads.use_fitted)
        chosen, valid = [], {}
        for spec in self.data.specs:
            name = spec.name
            if fitted.get(name, -np.inf) > tuned.get(name, -np.inf):
                if spec.is_class:
                    kind = "next_action" if spec.kind == "next_action" else "next_family"
                    columns |= self.heads.label_columns(kind)
                else:
                    columns |= self.heads.label_columns("binary", self.data.binary_specs.index(spec))
                chosen.append(name)
                valid[name] = fitted[name]
            else:
                valid[name] = tuned.get(name, fitted.get(name, 0.0))
        self.heads.answer_with_fitted_path(columns)
        return {"labels": chosen, "valid": valid}

    def _fit_summary_path(self) -> dict[str, Any]:
        """Fit the heads' direct summary path (and the output bias) alone on the training cuts.

        A regularised logistic regression (full batch, L-BFGS) on the standardised summary: the
        heads then start where a linear model on those counts ends, instead of reaching it only
        after many epochs while the deep part already overfits (KuaiRand, Taobao).
        """
        heads = self.heads
        assert heads.summary_out is not None and self.train_summary is not None
        events = np.flatnonzero(self.train_cut)
        x = self.train_summary[torch.from_numpy(self.summary_row[events])]
        params = [heads.summary_out.weight, heads.out.bias]
        optimizer = torch.optim.LBFGS(
            params, lr=1.0, max_iter=SUMMARY_FIT_STEPS, line_search_fn="strong_wolfe"
        )
        started = time.perf_counter()

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss = self._intent_loss(heads.summary_logits(x), events)
            assert loss is not None
            loss = loss + SUMMARY_FIT_L2 * heads.summary_out.weight.pow(2).sum()
            loss.backward()
            return loss.detach()  # L-BFGS reads the value; the gradients are already in place

        heads.train()
        loss = float(optimizer.step(closure))
        return {
            "cuts": len(events),
            "loss": round(loss, 5),
            "seconds": round(time.perf_counter() - started, 3),
        }

    # --- data --------------------------------------------------------------------------------------

    def _windows(self, *, intents: bool, next_item: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Training windows ``(start, end, trained_from)``.

        A window reads ``history_rows(start, end)``; its targets are the positions at events
        ``>= trained_from``.
        """
        tok = self.data.tokens
        n = tok.n_events
        target = np.zeros(n, dtype=bool)
        if intents:
            target |= self.train_cut
        if next_item:
            nxt = np.zeros(n, dtype=bool)
            nxt[:-1] = self.data.next_item_target[1:]
            target |= nxt & (np.arange(n) + 1 < tok.offsets[tok.user + 1])
        return stride_windows(tok.offsets, tok.user, target, self.stride)

    def _valid_next_item_cuts(self, rng: np.random.Generator, max_events: int | None = None) -> np.ndarray:
        """Validation cuts whose next event (an item, seen within the look-ahead) is a next-item target
        (with ``max_events``: only those after at most that many events), a sample of at most
        ``VALID_MAX_NEXT_ITEM``."""
        cuts = next_item_cuts(self.data.tokens, self.data.plan, "valid", max_events)
        if len(cuts) > VALID_MAX_NEXT_ITEM:
            cuts = np.sort(rng.choice(cuts, VALID_MAX_NEXT_ITEM, replace=False))
        return cuts

    # --- loss ----------------------------------------------------------------------------------------

    def _loss(
        self,
        pick: tuple[np.ndarray, np.ndarray, np.ndarray],
        intent_weight: float,
        next_item_weight: float,
        train_encoder: bool,
    ) -> torch.Tensor | None:
        data, tok = self.data, self.data.tokens
        mcfg = self.ni_config.model
        start, end, trained_from = pick
        rows = history_rows(start, end, mcfg.max_len, important=self.important, slots=mcfg.important_slots)
        rows = rows[:, int(np.argmax((rows >= 0).any(axis=0))) :]
        trained = rows >= trained_from[:, None]
        safe = np.maximum(rows, 0)
        user_end = tok.offsets[tok.user[safe] + 1]
        has_next = trained & (safe + 1 < user_end)
        nxt = np.minimum(safe + 1, tok.n_events - 1)
        last = rows[:, -1]
        next_time = np.where(
            last + 1 < tok.offsets[tok.user[last] + 1],
            tok.time_s[np.minimum(last + 1, tok.n_events - 1)],
            np.nan,
        )
        inputs = gather_tokens(tok, rows, next_time if self.spec.has_time else None)
        total = None
        shared = None  # without time both passes are the same: run the encoder once
        if intent_weight > 0:
            ib, it = np.nonzero(trained & self.train_cut[safe])
            if len(ib):
                if train_encoder:
                    if self.net.separate_pass:
                        hidden = self.net.intent_hidden(inputs)
                    else:
                        hidden = shared = self.network.encoder(**inputs)
                else:
                    with torch.no_grad():
                        hidden = self.net.intent_hidden(inputs)
                events = rows[ib, it]
                at = (torch.from_numpy(ib), torch.from_numpy(it))
                summary = None
                if self.train_summary is not None:
                    summary = self.train_summary[torch.from_numpy(self.summary_row[events])]
                loss = self._intent_loss(self.net.head_logits(inputs, hidden, at, summary), events)
                if loss is not None:
                    total = intent_weight * loss
        if next_item_weight > 0:
            nb, nt = np.nonzero(has_next & data.next_item_target[nxt])
            if len(nb):
                hidden = shared if shared is not None else self.network.encoder(**inputs)
                b_idx, t_idx = torch.from_numpy(nb), torch.from_numpy(nt)
                targets = torch.from_numpy(tok.item[rows[nb, nt] + 1])
                loss = self.objective(self.network.next_item, hidden, inputs, b_idx, t_idx, targets)
                total = next_item_weight * loss if total is None else total + next_item_weight * loss
        return total

    def _intent_loss(
        self, logits: tuple[torch.Tensor, torch.Tensor, torch.Tensor], events: np.ndarray
    ) -> torch.Tensor | None:
        data = self.data
        action_logits, family_logits, binary_logits = logits
        losses = []
        for logits, target in ((action_logits, data.action_target), (family_logits, data.family_target)):
            if logits.shape[1] == 0:
                continue
            y = target[events]
            known = y >= 0
            if known.any():
                losses.append(F.cross_entropy(logits[torch.from_numpy(known)], torch.from_numpy(y[known])))
        if binary_logits.shape[1]:
            y = torch.from_numpy(data.binary_target[events])
            known = ~torch.isnan(y)
            per = F.binary_cross_entropy_with_logits(
                binary_logits, torch.nan_to_num(y), reduction="none", pos_weight=self.positive_weight
            )
            per = (per * known).sum(0) / known.sum(0).clamp(min=1)
            losses.extend(per[known.any(0)])
        if not losses:
            return None
        return torch.stack(losses).mean()

    # --- validation ----------------------------------------------------------------------------------

    def _cut_batch(self, cuts: np.ndarray, query_time: np.ndarray | None = None) -> HistoryBatch:
        tok = self.data.tokens
        return HistoryBatch(tok, tok.user_start[cuts], cuts + 1, query_time)

    def valid_logits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, action, family, binary = run_network(
            self.net, self.ni_config.model, self._cut_batch(self.valid_cuts), intents_only=True
        )
        return action, family, binary

    def _intent_score(self) -> tuple[float, dict[str, float]]:
        """Mean validation AUC over the labels."""
        action, family, binary = self.valid_logits()
        data, cuts = self.data, self.valid_cuts
        detail = {}
        for spec in data.specs:
            y = data.labels.values[spec.name][cuts]
            known = data.labels.known(spec.name)[cuts]
            if spec.is_class:
                logits = action if spec.kind == "next_action" else family
                p = calibrated_probabilities(logits[known], None)
                detail[spec.name] = class_metrics(y[known], p)["AUC"]
            else:
                k = data.binary_specs.index(spec)
                detail[spec.name] = roc_auc(y[known], binary[known, k])
        values = [v for v in detail.values() if np.isfinite(v)]
        return (float(np.mean(values)) if values else 0.0), {k: round(float(v), 5) for k, v in detail.items()}

    def _next_item_logits(self, cuts: np.ndarray) -> np.ndarray:
        tok = self.data.tokens
        query = tok.time_s[cuts + 1] if self.spec.has_time else None
        logits, *_ = run_network(self.net, self.ni_config.model, self._cut_batch(cuts, query))
        assert logits is not None
        return logits

    def _next_item_score(self) -> tuple[float, dict[str, float]]:
        """Minus the mean validation next-item cross-entropy (full catalogue)."""
        cuts = self.valid_next
        if len(cuts) == 0:
            return 0.0, {}
        total = 0.0
        for lo in range(0, len(cuts), 512):
            part = cuts[lo : lo + 512]
            logits = torch.from_numpy(self._next_item_logits(part))
            total += float(
                F.cross_entropy(logits, torch.from_numpy(self.data.tokens.item[part + 1]), reduction="sum")
            )
        nll = total / len(cuts)
        return -nll, {"next_item_nll": round(nll, 5)}

    # --- after training ----------------------------------------------------------------------------

    def _calibrate(self) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        action, family, binary = self.valid_logits()
        data, cuts = self.data, self.valid_cuts
        calibration, report = {}, {}
        for spec in data.specs:
            y = data.labels.values[spec.name][cuts]
            known = data.labels.known(spec.name)[cuts]
            seed = self.config.train.seed
            if spec.is_class:
                z = (action if spec.kind == "next_action" else family)[known]
                yk = y[known].astype(np.int64)
                method = "temperature" if self.config.calibration != "none" else "none"
                metric = class_metrics
            else:
                z = binary[known, data.binary_specs.index(spec)]
                yk = y[known].astype(np.float64)
                method, metric = self.config.calibration, binary_metrics
            params = fit_calibration(z, yk, method, seed=seed)
            before = metric(yk, calibrated_probabilities(z, None))
            # "after" from maps fitted on the other half of the validation cuts: an honest figure
            after = metric(yk, cross_fitted_probabilities(z, yk, params["method"], seed=seed))
            calibration[spec.name] = params
            report[spec.name] = {
                "method": params["method"],
                "valid_examples": int(known.sum()),
                "valid_ECE_before": before["ECE"],
                "valid_ECE_after": after["ECE"],
                "valid_log_loss_before": before["log_loss"],
                "valid_log_loss_after": after["log_loss"],
            }
        return calibration, report

    def _profile(self) -> tuple[Any, dict[str, Any]]:
        data, tok, plan = self.data, self.data.tokens, self.data.plan
        fit = data.next_item_target.copy()
        if plan.test_start_s is not None:
            fit &= tok.time_s < plan.test_start_s
        ccfg = self.config.cold_start
        # Short histories drawn from every validation cut, not only from the sampled next-item cuts
        # (there, KuaiRand's 1,639 of 7,382): a generator of their own leaves training's draws as
        # they were.
        rng = np.random.default_rng([self.config.train.seed, COLD_SAMPLE_STREAM])
        cold = self._valid_next_item_cuts(rng, max_events=ccfg.max_events)
        chosen = cold if len(cold) >= 50 else self.valid_next
        targets = tok.item[chosen + 1] if len(chosen) else np.zeros(0, np.int64)
        profile, seg_scores = build_profile(self.dataset, tok, fit, ccfg, chosen, targets)
        report: dict[str, Any] = {
            "segment_by": profile.segment_by,
            "segments": len(profile.segment_names),
            "segment_valid_NDCG@10": seg_scores,
            "cold_valid_cuts": len(cold),
        }
        if len(chosen):
            users = self.dataset.vocab(Vocabularies.USERS)
            segments = [profile.segment_of(users.value_of(int(u))) for u in tok.user[chosen]]
            n_events = np.minimum(chosen - tok.user_start[chosen] + 1, self.ni_config.model.max_len)
            logits = self._next_item_logits(chosen)
            kappa, temperature, grid = choose_blend(profile, logits, n_events, segments, targets)
            report.update({"kappa": kappa, "temperature": temperature, "blend_valid_NDCG@10": grid})
        return profile, report


MAX_POSITIVE_WEIGHT = 30.0


def positive_weights(targets: np.ndarray, config: Any) -> np.ndarray:
    """Loss weight of the positives of each yes/no label ``[K]`` from its training targets ``[n, K]``.

    ``sqrt(negatives / positives)`` clipped to [1, ``MAX_POSITIVE_WEIGHT``] (``positive_weight:
    sqrt``), else 1: a label with 0.5 % positives otherwise gives the heads almost no gradient beside
    the next-item loss, and they stay at the base rate.
    """
    k = targets.shape[1]
    if config.positive_weight == "none" or k == 0:
        return np.ones(k, dtype=np.float32)
    positives = np.nansum(targets == 1, axis=0).astype(np.float64)
    negatives = np.nansum(targets == 0, axis=0).astype(np.float64)
    ratio = np.sqrt(negatives / np.maximum(positives, 1.0))
    return np.clip(ratio, 1.0, MAX_POSITIVE_WEIGHT).astype(np.float32)


def _batches(
    windows: tuple[np.ndarray, np.ndarray, np.ndarray],
    batch_size: int,
    max_len: int,
    rng: np.random.Generator,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Batches of windows of similar length (random within a length), in random order."""
    start, end, trained_from = windows
    lengths = end - start
    order = np.lexsort((rng.random(len(start)), np.minimum(lengths, max_len)))
    chunks = [order[lo : lo + batch_size] for lo in range(0, len(order), batch_size)]
    return [(start[c], end[c], trained_from[c]) for c in (chunks[i] for i in rng.permutation(len(chunks)))]
