"""The code of docs/boosting.rst runs as written (its blocks in order, one namespace),
and its models do what the page says of them."""

import pathlib
import re

import numpy as np

import numbaloss as nl

PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "boosting.rst"


def code_blocks(text):
    """The ``.. code-block:: python`` blocks of an reST page, dedented."""
    blocks = []
    for match in re.finditer(r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text, re.M):
        lines = match.group(1).rstrip("\n").split("\n")
        blocks.append("\n".join(line[3:] for line in lines))
    return blocks


def focal(margin, y):
    return nl.sigmoid_focal_loss(margin.astype(np.float64), y.astype(np.float64), reduction="mean")


def test_page_examples_run(xgb, lgb, capsys):
    blocks = code_blocks(PAGE.read_text())
    assert len(blocks) == 3
    ns = {}
    run = iter(blocks)

    exec(next(run), ns)  # XGBoost, sigmoid focal
    y_valid = ns["y"][15_000:]
    assert 0.01 < y_valid.mean() < 0.06
    constant = focal(np.zeros_like(y_valid), y_valid)
    assert focal(ns["margin"], y_valid) < 0.7 * constant
    assert "valid-sigmoid_focal_loss" in capsys.readouterr().out

    exec(next(run), ns)  # LightGBM, sigmoid focal
    assert focal(ns["margin"], y_valid) < 0.7 * constant

    exec(next(run), ns)  # quantile regression
    y = ns["y"]
    assert 0.85 < np.mean(y <= ns["bands"][0.9]) < 0.95
    assert 0.05 < np.mean(y <= ns["bands"][0.1]) < 0.15
    pred = ns["xgb_model"].predict(ns["x"])
    assert 0.85 < np.mean(y <= pred) < 0.95
