"""The leaderboard population's fitting rules (``scripts/_population.py``): an iterative family is
stopped where its loss on the dev rows was best, as an entrant watching the public leaderboard would."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.metrics import log_loss

from gome_env.tasks.task import load_spec
from scripts._features import Features
from scripts._population import Recipe, fit_predict


def test_a_net_keeps_the_epoch_with_the_best_dev_loss():
    """scikit-learn's own stopping watches the accuracy of a 10% split, so the net's probabilities can
    grow overconfident after its accuracy stops changing. Kept at its best dev epoch, the same net's log
    loss on rows it never saw (neither trained nor stopped on) is far lower."""
    spec = load_spec("digits")  # ten-class log loss
    X, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    X, y = X[order] / 16, y[order]
    n_train, n_dev = 1000, 400
    feats = Features(X[:n_train], X[n_train:], X[:n_train], X[n_train:])
    classes = np.arange(10)
    net = (("h", (128,)), ("a", 1e-3), ("lr", 1e-3))
    losses = {}
    for name, params in (("sklearn-stop", net), ("dev-stop", net + (("es", 1),))):
        pred = fit_predict(Recipe("mlp", params, tier="strong"), spec, feats, pd.Series(y[:n_train]), classes,
                           n_dev=n_dev, dev_y=y[n_train:n_train + n_dev])
        assert pred.shape == (len(X) - n_train, 10) and np.allclose(pred.sum(1), 1)
        losses[name] = log_loss(y[n_train + n_dev:], pred[n_dev:], labels=classes)
    assert losses["dev-stop"] < 0.8 * losses["sklearn-stop"], losses
