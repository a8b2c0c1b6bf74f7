"""Baselines on hand-made features: LightGBM and logistic regression, for yes/no and class labels.

Both follow the estimator shape: the constructor stores settings; ``fit(X, y, X_valid, y_valid)``
learns and returns self; ``predict_proba(X)`` gives P(yes) [N] for a yes/no label or [N, C] over
class indices ``0 .. n_classes - 1`` (classes never seen in training get 0).

Settings are chosen on the validation cuts, as the heads' are (``tune=True``): LightGBM over
``GRID`` (leaves, minimum leaf size, L2) with early stopping (up to 2,000 trees at learning rate
0.05), the logistic regression over ``C`` — by validation AUC for a yes/no label, log-loss for
classes. Histories of one user give many correlated cuts, so the defaults of a GBDT overfit them.

>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(400, 3)).astype(np.float32); y = (X[:, 0] > 0).astype(float)
>>> p = TabularBaseline("logreg").fit(X[:300], y[:300], X[300:], y[300:]).predict_proba(X[300:])
>>> bool(((p > 0.5) == y[300:]).mean() > 0.9)
True
"""

from __future__ import annotations

import itertools
from typing import Any, Literal, Self

import numpy as np

from seqintent._compat import require
from seqintent.errors import ConfigError, NotFittedError
from seqintent.models.intent_metrics import log_loss, roc_auc

KINDS = ("lightgbm", "logreg")
GRID = {"num_leaves": (7, 31), "min_data_in_leaf": (50, 500), "lambda_l2": (0.0, 10.0)}
C_GRID = (0.01, 0.1, 1.0)


class TabularBaseline:
    """LightGBM or logistic regression on a feature matrix.

    Parameters
    ----------
    kind:
        ``"lightgbm"`` or ``"logreg"``.
    n_classes:
        None for a yes/no label; else the number of class indices (a class label).
    seed:
        Seeds LightGBM's bagging.
    threads:
        LightGBM threads. One by default: on a 2-core machine shared with other work, OpenMP's
        spinning threads made a 50,000-row fit 9x slower in CPU time with 2 threads than with 1
        (17.7 against 1.9 CPU-s, measured at load average 10).
    tune:
        Choose settings on the validation data (else LightGBM's 31 leaves / 20 per leaf, C = 1).
    """

    def __init__(
        self,
        kind: Literal["lightgbm", "logreg"],
        n_classes: int | None = None,
        seed: int = 0,
        threads: int = 1,
        tune: bool = True,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError("unknown baseline", value=kind, candidates=list(KINDS))
        self.kind = kind
        self.n_classes = n_classes
        self.seed = seed
        self.threads = threads
        self.tune = tune

    def fit(self, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray) -> Self:  # noqa: N803
        if self.n_classes is None:
            self.classes_ = np.array([0, 1])
            y, y_valid = y.astype(np.int64), y_valid.astype(np.int64)
        else:
            self.classes_ = np.unique(y)
        # labels re-indexed to the classes seen in training (a class absent from training is never predicted)
        y_idx = np.searchsorted(self.classes_, y)
        keep_valid = np.isin(y_valid, self.classes_)
        yv = np.searchsorted(self.classes_, y_valid[keep_valid])
        Xv = X_valid[keep_valid]  # noqa: N806
        can_select = self.tune and len(yv) > 0 and len(np.unique(yv)) > 1
        if self.kind == "lightgbm":
            grid = [dict(zip(GRID, v, strict=True)) for v in itertools.product(*GRID.values())]
            candidates = (
                grid if can_select else [{"num_leaves": 31, "min_data_in_leaf": 20, "lambda_l2": 0.0}]
            )
            fits = [self._fit_lightgbm(X, y_idx, Xv, yv, params) for params in candidates]
        else:
            candidates = [{"C": c} for c in (C_GRID if can_select else (1.0,))]
            fits = [self._fit_logreg(X, y_idx, params["C"]) for params in candidates]
        self.model_ = fits[0]
        self.params_ = candidates[0]
        if len(fits) > 1:
            scores = [self._valid_score(fit, Xv, yv) for fit in fits]
            best = int(np.argmax(scores))
            self.model_, self.params_ = fits[best], candidates[best]
        return self

    def _valid_score(self, model: Any, Xv: np.ndarray, yv: np.ndarray) -> float:  # noqa: N803
        p = self._proba(model, Xv)
        if self.n_classes is None:
            return roc_auc(yv, p[:, 1])
        return -log_loss(yv, p)

    def _fit_lightgbm(
        self,
        X: np.ndarray,  # noqa: N803
        y: np.ndarray,
        Xv: np.ndarray,  # noqa: N803
        yv: np.ndarray,
        settings: dict[str, Any],
    ) -> Any:
        lgb = require("lightgbm", "the LightGBM intent baseline")
        multi = self.n_classes is not None
        params: dict[str, Any] = {
            "objective": "multiclass" if multi else "binary",
            "learning_rate": 0.05,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "feature_fraction": 0.8,
            "seed": self.seed,
            "num_threads": self.threads,
            "verbose": -1,
            **settings,
        }
        if multi:
            params["num_class"] = len(self.classes_)
        train = lgb.Dataset(X, y)
        can_stop = len(yv) > 0 and len(np.unique(yv)) > 1
        valid = [lgb.Dataset(Xv, yv, reference=train)] if can_stop else []
        callbacks = [lgb.early_stopping(50, verbose=False)] if can_stop else []
        rounds = 2000 if can_stop else 200
        return lgb.train(params, train, num_boost_round=rounds, valid_sets=valid, callbacks=callbacks)

    def _fit_logreg(self, X: np.ndarray, y: np.ndarray, c: float) -> Any:  # noqa: N803
        require("sklearn", "the logistic-regression intent baseline")
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from threadpoolctl import threadpool_limits

        model = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=c, max_iter=2000),
        )
        # one BLAS thread: on a busy machine OpenBLAS's spinning threads made this 10x slower (measured)
        with threadpool_limits(limits=1):
            return model.fit(X, y)

    def _proba(self, model: Any, X: np.ndarray) -> np.ndarray:  # noqa: N803
        """Probabilities [N, len(classes_)] of the classes seen in training."""
        if self.kind == "lightgbm":
            p = model.predict(X, num_iteration=model.best_iteration or None)
            return p if p.ndim == 2 else np.stack([1 - p, p], axis=1)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return model.predict_proba(X)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:  # noqa: N803
        if not hasattr(self, "model_"):
            raise NotFittedError(f"{self.kind} baseline is not fitted yet", fix="call fit(...) first")
        p = self._proba(self.model_, X)
        if self.n_classes is None:
            return p[:, 1] if p.shape[1] > 1 else np.zeros(len(X))
        out = np.zeros((len(X), self.n_classes))
        out[:, self.classes_] = p
        return out

    def __repr__(self) -> str:
        return f"TabularBaseline(kind={self.kind!r}, n_classes={self.n_classes})"
