"""Whole memories (issue 23): kept whole, the oldest entries left out (marked) only to fit the
model's context window, the window read from the backend."""

from __future__ import annotations

import pytest

from policies.context import context_window, fit_entries, fit_prompt, left_out_marker, prompt_fits
from policies.models import ScriptedBackend

ENTRIES = [f"entry {i}: " + "word " * 20 for i in range(12)]  # 22 scripted tokens each


def build(memory: str) -> list[dict]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"# Task\nfit me\n# Memory\n{memory}"}]


def test_everything_is_kept_when_it_fits_or_the_window_is_unknown():
    for model in (ScriptedBackend(), ScriptedBackend(context_window=10_000)):
        conversation, dropped = fit_prompt(model, build, ENTRIES, max_tokens=100)
        assert dropped == 0 and all(e in conversation[-1]["content"] for e in ENTRIES)
        assert "left out" not in conversation[-1]["content"]
    assert context_window(ScriptedBackend()) is None and context_window(ScriptedBackend(context_window=512)) == 512


def test_the_oldest_entries_go_first_and_the_marker_counts_them():
    model = ScriptedBackend(context_window=200)
    conversation, dropped = fit_prompt(model, build, ENTRIES, max_tokens=50, noun="experiments")
    text = conversation[-1]["content"]
    assert 0 < dropped < len(ENTRIES)
    assert left_out_marker(dropped, "experiments") in text
    assert all(e not in text for e in ENTRIES[:dropped]) and all(e in text for e in ENTRIES[dropped:])  # newest kept, whole
    assert model.count_tokens(conversation) + 50 <= 200  # it fits the window with room for the answer
    # and not one more entry would have fitted: nothing is cut below the window
    one_more = build("\n".join([left_out_marker(dropped - 1, "experiments"), *ENTRIES[dropped - 1:]]))
    assert not prompt_fits(model, one_more, 50)


def test_nothing_fits_leaves_the_marker_alone():
    text, dropped = fit_entries(ENTRIES, lambda t: len(t) < 10)
    assert dropped == len(ENTRIES) and text == left_out_marker(len(ENTRIES))
    assert fit_entries([], lambda t: False) == ("", 0)


@pytest.mark.parametrize("window", [120, 300, 1000])
def test_the_fewest_entries_are_left_out(window):
    model = ScriptedBackend(context_window=window)
    _, dropped = fit_prompt(model, build, ENTRIES, max_tokens=40)
    fits = [prompt_fits(model, build("\n".join(([left_out_marker(k)] if k else []) + ENTRIES[k:])), 40)
            for k in range(len(ENTRIES) + 1)]
    expected = next((k for k, ok in enumerate(fits) if ok), len(ENTRIES))
    assert dropped == expected


def test_backends_report_their_window():
    """The HF backend reads max_position_embeddings from the model's config (the real bundled
    model is checked in tests/test_models.py); the others' code paths are read here."""
    from policies.models.hf import _window

    class Config:
        max_position_embeddings = 8192

    class Tokenizer:
        model_max_length = 10**30  # transformers' "no limit" sentinel

    assert _window(Config(), Tokenizer()) == 8192
    assert _window(object(), Tokenizer()) is None
