"""The whole-history summary: every column by hand, one history or many, training's and serving's paths."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from seqintent.models.heads import IntentHeads, IntentNetwork, RecentEvents
from seqintent.models.history_summary import (
    history_summary,
    summary_names,
    summary_width,
    tokens_summary,
    tokens_summary_without,
)
from tests.models.test_model_intent_heads import _net

N_ACTIONS, DWELL, WINDOW, CONVERT = 5, 6, 7, 4


EPOCH_2023 = 1_700_000_000.0  # real logs carry epoch seconds: the day and hour windows must see them


def _log(seed=0, lengths=(1, 3, 12, 20, 5), epoch=EPOCH_2023):
    rng = np.random.default_rng(seed)
    n = sum(lengths)
    action = rng.integers(1, N_ACTIONS, n)
    user = np.repeat(np.arange(len(lengths)), lengths)
    return {
        "action": action,
        "family": np.where(action == 3, CONVERT, 1),
        "item": rng.integers(0, 4, n),
        "category": rng.integers(0, 3, n),
        "dwell": rng.integers(0, DWELL, n),
        "time_s": epoch + np.concatenate([np.sort(rng.uniform(0, 3 * 86400, k)) for k in lengths]),
    }, np.concatenate([[0], np.cumsum(lengths)])[user]


def _by_hand(log, start, cut, window=WINDOW):
    lo = max(start, cut - window + 1)
    window = {k: v[lo : cut + 1] for k, v in log.items()}
    k, now, t = cut - lo + 1, log["time_s"][cut], window["time_s"]
    day = t >= now - 86400
    span = now - t[0]
    row = [np.log1p(k) / 6, np.log1p((t >= now - 3600).sum()) / 6, np.log1p(day.sum()) / 6]
    row += [np.log1p(span) / 16, np.log1p(k / (span / 86400 + 1)) / 6]
    pauses = np.flatnonzero(np.diff(t) > 1800)  # the session: after the last pause over 30 minutes
    session = np.arange(k) >= (pauses[-1] + 1 if len(pauses) else 0)
    row += [np.log1p(session.sum()) / 6, np.log1p(now - t[session][0]) / 16]
    for a in range(1, N_ACTIONS):
        is_a = window["action"] == a
        row += [is_a.sum() / k, np.log1p(is_a.sum()) / 6, np.log1p((is_a & day).sum()) / 6]
        row += [np.log1p((is_a & session).sum()) / 6]
    converts = np.flatnonzero(window["family"] == CONVERT)
    row += [np.log1p(now - t[converts[-1]]) / 16 if len(converts) else 0.0, float(len(converts) > 0)]
    items, cats = window["item"], window["category"]
    row += [len(set(items[items > 0])) / k, len(set(cats[cats > 0])) / k]
    newest = log["item"][cut]
    row += [np.log1p((items[:-1] == newest).sum() if newest > 0 else 0) / 4]
    dwell = window["dwell"]
    known = (dwell > 0).sum()
    row += [(dwell == b).sum() / known if known else 0.0 for b in range(1, DWELL)]
    return np.array(row)


@pytest.mark.parametrize("epoch", [0.0, EPOCH_2023])
def test_every_column_matches_a_hand_computation_at_every_cut(epoch):
    log, starts = _log(epoch=epoch)
    cuts = np.arange(len(starts))
    got = history_summary(
        **log,
        starts=starts,
        cuts=cuts,
        n_actions=N_ACTIONS,
        dwell_buckets=DWELL,
        convert_family=CONVERT,
        window=WINDOW,
    )
    want = np.stack([_by_hand(log, s, c) for s, c in zip(starts, cuts, strict=True)])
    assert got.shape == (len(cuts), summary_width(N_ACTIONS, DWELL))
    assert len(summary_names(["a", "b", "c", "d"], DWELL)) == got.shape[1]
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("window", [2, 5, 9])
def test_sliding_windows_of_long_histories_match_by_hand(window):
    # few distinct values and histories many windows long: every way a value enters and leaves
    log, starts = _log(seed=window, lengths=(60, 1, 35, 9, 48))
    sizes = {"n_actions": N_ACTIONS, "dwell_buckets": DWELL, "convert_family": CONVERT, "window": window}
    cuts = np.arange(len(starts))
    got = history_summary(**log, starts=starts, cuts=cuts, **sizes)
    want = np.stack([_by_hand(log, s, c, window) for s, c in zip(starts, cuts, strict=True)])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_one_history_alone_gives_what_the_whole_log_gives():
    # serving computes one history from its own events; training reads the whole log at once
    log, starts = _log(seed=1)
    sizes = {"n_actions": N_ACTIONS, "dwell_buckets": DWELL, "convert_family": CONVERT, "window": WINDOW}
    cuts = np.arange(len(starts))
    whole = history_summary(**log, starts=starts, cuts=cuts, **sizes)
    for cut in (0, 3, 10, 15, 30, 40):
        s = starts[cut]
        alone = history_summary(
            **{k: v[s : cut + 1] for k, v in log.items()}, starts=[0], cuts=[cut - s], **sizes
        )
        np.testing.assert_allclose(alone[0], whole[cut], atol=1e-6)


def test_gathered_and_whole_paths_agree_and_empty_histories_are_zero():
    log, starts = _log(seed=2, lengths=(30, 2, 40, 9))
    user_start = starts
    tokens = SimpleNamespace(**log, user_start=user_start, n_events=len(starts))
    every = np.arange(len(starts))
    whole = tokens_summary(tokens, user_start, every, n_actions=N_ACTIONS, dwell_buckets=DWELL, window=WINDOW)
    few = np.array([5, 31, 60])
    gathered = tokens_summary(
        tokens, user_start[few], few, n_actions=N_ACTIONS, dwell_buckets=DWELL, window=WINDOW
    )
    np.testing.assert_allclose(gathered, whole[few], atol=1e-6)
    empty = tokens_summary(
        tokens, np.array([5, 32]), np.array([4, 40]), n_actions=N_ACTIONS, dwell_buckets=DWELL, window=WINDOW
    )
    assert not empty[0].any() and empty[1].any()
    with pytest.raises(ValueError, match="between its start"):
        history_summary(**log, starts=[5], cuts=[4], n_actions=N_ACTIONS, dwell_buckets=DWELL)


def test_a_summary_without_one_event_is_the_summary_of_the_history_without_it():
    # occlusion explanations take one event out of a history and recount
    log, starts = _log(seed=3, lengths=(30, 2, 12))
    sizes = {"n_actions": N_ACTIONS, "dwell_buckets": DWELL, "window": WINDOW}
    tokens = SimpleNamespace(**log, user_start=starts, n_events=len(starts))
    cuts = np.array([29, 29, 29, 31, 31, 43])
    removed = np.array([29, 25, 3, 30, -1, 35])  # the newest, inside the window, before it, ...
    got = tokens_summary_without(tokens, starts[cuts], cuts, removed, **sizes)
    for i, (cut, gone) in enumerate(zip(cuts, removed, strict=True)):
        keep = [j for j in range(starts[cut], cut + 1) if j != gone]
        alone = {k: v[keep] for k, v in log.items()}
        want = history_summary(**alone, starts=[0], cuts=[len(keep) - 1], **sizes)  # default convert code
        np.testing.assert_allclose(got[i], want[0], atol=1e-6, err_msg=f"cut {cut} without {gone}")
    alone = tokens_summary_without(tokens, np.array([30]), np.array([30]), np.array([30]), **sizes)
    assert not alone.any()  # nothing left: zeros


def _like_share_task(n=3000, length=200, t=12, seed=0):
    """Yes when the user liked more than half of a 200-event history; the network reads the newest 12."""
    g = np.random.default_rng(seed)
    rate = g.uniform(0.3, 0.7, n)
    liked = g.random((n, length)) < rate[:, None]
    action = np.where(liked, 2, 1)
    y = torch.from_numpy((liked.mean(1) > 0.5).astype(np.float32))
    x = {
        "item": torch.from_numpy(g.integers(1, 21, (n, t))),
        "action": torch.from_numpy(action[:, -t:]),
        "family": torch.ones(n, t, dtype=torch.int64),
        "category": torch.zeros(n, t, dtype=torch.int64),
        "gap": torch.zeros(n, t, dtype=torch.int64),
        "hour": torch.zeros(n, t, dtype=torch.int64),
        "weekday": torch.zeros(n, t, dtype=torch.int64),
        "dwell": torch.zeros(n, t, dtype=torch.int64),
        "next_gap": torch.zeros(n, t, dtype=torch.int64),
        "time_s": torch.zeros(n, t),
    }
    flat = action.reshape(-1)
    zeros = np.zeros_like(flat)
    starts = np.repeat(np.arange(n) * length, 1)
    summary = history_summary(
        action=flat,
        family=np.ones_like(flat),
        item=zeros,
        category=zeros,
        dwell=zeros,
        time_s=zeros.astype(float),
        starts=starts,
        cuts=starts + length - 1,
        n_actions=4,
        dwell_buckets=16,
    )
    return x, torch.from_numpy(summary), y


@pytest.mark.parametrize("with_summary", [True, False])
def test_the_summary_lets_the_heads_learn_what_lies_beyond_the_window(with_summary):
    # heads on a frozen encoder that reads 12 events (and their wide path): the like share of the
    # whole history is learnt from the summary; the newest events alone only estimate it
    base = _net()
    recent = RecentEvents(10, n_actions=4, n_families=10, out=16)
    heads = IntentHeads(
        32, 16, 4, 10, 3, recent, summary_window=500 if with_summary else 0, summary_actions=4
    )
    net = IntentNetwork(base.network, heads).eval()
    x, s, y = _like_share_task(seed=0)
    xt, st, yt = _like_share_task(seed=5)
    s, st = (s, st) if with_summary else (None, None)
    if s is not None:
        heads.fit_summary_scale(s)  # as training does, on the training cuts
    with torch.no_grad():
        hidden, hidden_test = net.intent_hidden(x), net.intent_hidden(xt)
    opt = torch.optim.Adam(heads.parameters(), lr=1e-2)
    heads.train()
    for _ in range(150):
        logits = net.head_logits(x, hidden, summary=s)[2][:, 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    heads.eval()
    with torch.no_grad():
        score = net.head_logits(xt, hidden_test, summary=st)[2][:, 0]
    pos = yt > 0
    auc = float((score[pos][:, None] > score[~pos][None]).float().mean())
    if with_summary:
        assert auc > 0.97
    else:
        assert auc < 0.85


def test_a_model_folder_saved_before_the_summary_still_loads(research, tmp_path):
    import shutil

    from safetensors.numpy import load_file, save_file

    from seqintent.data import read_json, write_json
    from seqintent.models import NextItemModel
    from seqintent.schema.columns import ModelFiles

    folder = tmp_path / "model"
    shutil.copytree(research[3], folder)
    body = read_json(folder / ModelFiles.INTENTS)
    assert body["summary"] == {"window": 500, "n_actions": body["summary"]["n_actions"], "dwell_buckets": 16}
    del body["summary"]  # as written before the summary existed
    write_json(folder / ModelFiles.INTENTS, body)
    weights = folder / ModelFiles.INTENT_WEIGHTS
    tensors = {k: v for k, v in load_file(str(weights)).items() if ".summary" not in k and "fitted" not in k}
    save_file(tensors, str(weights), metadata={"format": "np"})
    heads = NextItemModel.from_pretrained(folder).intents.heads
    assert heads.summary is None and heads.summary_out is None
    assert heads.summarize(None, np.zeros(1), np.zeros(1)) is None  # type: ignore[arg-type]


def test_a_model_folder_with_another_summary_layout_is_refused_at_load(research, tmp_path):
    import shutil

    from safetensors.numpy import load_file, save_file

    from seqintent.errors import ArtifactError
    from seqintent.models import NextItemModel
    from seqintent.schema.columns import ModelFiles

    folder = tmp_path / "model"
    shutil.copytree(research[3], folder)
    weights = folder / ModelFiles.INTENT_WEIGHTS
    tensors = load_file(str(weights))
    # as an older version wrote it: six summary columns fewer
    for name, value in list(tensors.items()):
        if ".summary" in name:
            tensors[name] = np.ascontiguousarray(value[..., :-6])
    save_file(tensors, str(weights), metadata={"format": "np"})
    with pytest.raises(ArtifactError, match="layout changed") as err:
        NextItemModel.from_pretrained(folder)
    assert str(weights) in str(err.value) and "re-train" in str(err.value)


def test_histories_with_users_between_them_that_have_no_cut():
    # the log holds every user; cuts come from some: a user between two others may start earlier
    # in time than the one before ends, and must not disturb the day and hour windows
    log, starts = _log(seed=4, lengths=(25, 30, 15))
    log["time_s"][25:55] -= 2 * 86400  # the middle user's log starts two days before the first one ends
    sizes = {"n_actions": N_ACTIONS, "dwell_buckets": DWELL, "convert_family": CONVERT, "window": WINDOW}
    cuts = np.r_[np.arange(0, 25), np.arange(55, 70)]
    got = history_summary(**log, starts=starts[cuts], cuts=cuts, **sizes)
    want = np.stack([_by_hand(log, starts[c], c) for c in cuts])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_labels_answered_by_the_fitted_path_keep_it_while_the_rest_is_fine_tuned():
    torch.manual_seed(0)
    heads = IntentHeads(
        8, 16, n_actions=3, n_families=2, n_binary=2, summary_window=50, summary_actions=N_ACTIONS
    )
    width = heads.summary_width
    with torch.no_grad():
        heads.summary_out.weight.normal_()
        heads.out.bias.normal_()
    heads.keep_fitted_path()
    fitted_w, fitted_b = heads.summary_out.weight.detach().clone(), heads.out.bias.detach().clone()
    mask = heads.label_columns("binary", 1) | heads.label_columns("next_action")
    assert mask.tolist() == [True, True, True, False, False, False, True]
    heads.answer_with_fitted_path(mask)
    with torch.no_grad():  # what fine-tuning does: every weight moves
        for p in heads.parameters():
            p.add_(torch.randn_like(p))
    heads.eval()
    hidden, summary = torch.randn(5, 8), torch.rand(5, width)
    with torch.no_grad():
        action, family, binary = heads(hidden, summary=summary)
        logits = torch.cat([action, family, binary], dim=1)
        fitted = heads.standardised(summary) @ fitted_w.T + fitted_b
    # action's column 0 is the padding class (-inf): compare the real ones
    np.testing.assert_allclose(logits[:, 1:3], fitted[:, 1:3], atol=1e-5)
    np.testing.assert_allclose(logits[:, 6], fitted[:, 6], atol=1e-5)
    assert not torch.allclose(logits[:, 5], fitted[:, 5], atol=1e-3)  # the other binary label moved on


def test_the_fallback_is_recorded_with_the_validation_figures_it_chose_from(research):
    log = research[2].intents.metrics
    phase = log["phases"][-1]
    if phase["best_epoch"] == 0:
        assert "fitted_path_fallback" not in phase  # the fitted path answers everything already
        return
    fallback = phase["fitted_path_fallback"]
    tuned = phase["history"][phase["best_epoch"] - 1]["valid"]
    fitted = log["summary_fit"]["valid"]
    for name, value in fallback["valid"].items():
        assert value == (fitted[name] if name in fallback["labels"] else tuned[name])
        assert value == max(fitted[name], tuned[name])
