"""Tests of the model layer (policies.models): specs, usage, the scripted backend, the bundled
default model generating on the CPU, and vLLM for real (in-process and its OpenAI-compatible
server), which skip with the reason where vLLM does not import."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from models_fixtures import hf_model, smollm2_dir, vllm_model, vllm_server  # noqa: F401 (fixtures)

from policies.models import SPEC_FORMS, Completion, ModelError, ScriptedBackend, Usage, load_model
from policies.models.vllm_server import free_port

# Conversations of clearly different lengths: prompt token counts reveal their order.
CONVERSATIONS = [
    [{"role": "user", "content": "Name a colour."}],
    [
        {"role": "system", "content": "You are a concise assistant for machine-learning engineers."},
        {"role": "user", "content": "In one sentence, what does a learning-rate warm-up do during training?"},
    ],
    [{"role": "user", "content": "Write a Python function that returns the square of a number, with a docstring, type hints and a doctest."}],
]
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"enum": ["yes", "no"]}, "sure": {"type": "boolean"}},
    "required": ["answer", "sure"],
    "additionalProperties": False,
}
JSON_QUESTION = [[{"role": "user", "content": "Is Paris in France? Answer as JSON."}]]


# ---- no model needed -------------------------------------------------------------------------


def test_import_is_light() -> None:
    code = (
        "import sys, policies.models as m; m.load_model('scripted');"
        "print([x for x in ('torch', 'transformers', 'vllm', 'openai') if x in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("spec", ["gpt-17", "foo:bar", "hf:", "smollm2:extra", "openai"])
def test_unknown_spec_lists_valid_forms(spec: str) -> None:
    with pytest.raises(ModelError) as err:
        load_model(spec)
    for form in SPEC_FORMS:
        assert form in str(err.value)


def test_missing_local_model_says_how_to_point_at_one() -> None:
    for spec in ["hf:/nonexistent/model-folder", "hf:some-org/model-that-is-not-cached"]:
        with pytest.raises(ModelError, match="local folder"):
            load_model(spec)


def test_usage_adds_and_subtracts() -> None:
    a, b = Usage(1, 10, 5, 2.0), Usage(2, 3, 15, 2.0)
    assert (a + b).to_dict() == {
        "calls": 3, "prompt_tokens": 13, "completion_tokens": 20, "seconds": 4.0,
        "total_tokens": 33, "tokens_per_s": 5.0,
    }
    assert (a + b) - a == b


def test_scripted_counts_batches_tokens_and_keeps_order() -> None:
    model = load_model(ScriptedBackend(["one two", "three", "four five six", "seven"]))
    before = model.usage.snapshot()
    first = model.chat(CONVERSATIONS[:2])
    second = model.chat([CONVERSATIONS[2]], max_tokens=2)
    assert model.calls == [2, 1]
    assert [c.text for c in first + second] == ["one two", "three", "four five"]
    assert second[0].finish_reason == "length" and first[0].finish_reason == "stop"
    assert [c.completion_tokens for c in first + second] == [2, 1, 2]
    assert first[0].prompt_tokens == len("Name a colour.".split())
    spent = model.usage - before
    assert (spent.calls, spent.completion_tokens) == (2, 5)
    assert spent.prompt_tokens == sum(c.prompt_tokens for c in first + second)
    model.chat([CONVERSATIONS[0]])
    with pytest.raises(ModelError, match="ran out"):
        model.chat([CONVERSATIONS[0]])


def test_one_definition_of_sampling_defaults() -> None:
    import dataclasses
    import inspect

    from policies import PolicyConfig
    from policies.base import Episode
    from policies.models import EDIT_MAX_TOKENS, SAMPLING, ModelBackend

    for fn in (ModelBackend.chat, Episode.chat):
        params = inspect.signature(fn).parameters
        assert (params["temperature"].default, params["top_p"].default, params["max_tokens"].default) == (
            SAMPLING.temperature, SAMPLING.top_p, SAMPLING.max_tokens)
    defaults = {f.name: f.default for f in dataclasses.fields(PolicyConfig)}
    assert (defaults["temperature"], defaults["top_p"], defaults["max_tokens"]) == (SAMPLING.temperature, SAMPLING.top_p, EDIT_MAX_TOKENS)
    conv = [{"role": "user", "content": "one two three"}]
    assert ScriptedBackend().count_tokens(conv) == ScriptedBackend().chat([conv])[0].prompt_tokens == 3


def test_scripted_callable_n_and_stop() -> None:
    model = ScriptedBackend(lambda messages: f"len={len(messages)}\nmore")
    out = model.chat(CONVERSATIONS, n=2, stop=["\n"])
    assert [c.texts for c in out] == [["len=1"] * 2, ["len=2"] * 2, ["len=1"] * 2]
    assert model.conversations == CONVERSATIONS
    assert load_model("scripted").chat([CONVERSATIONS[0]])[0].text == "Name a colour."


def test_chat_rejects_a_bare_conversation() -> None:
    with pytest.raises(ModelError, match="wrap it"):
        ScriptedBackend().chat(CONVERSATIONS[0])  # type: ignore[arg-type]
    assert ScriptedBackend().chat([]) == []


def test_server_down_fails_with_the_address_after_bounded_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    model = load_model(f"openai:{url}#m", max_retries=2, backoff_s=0.05, timeout=2)
    start = time.perf_counter()
    with pytest.raises(ModelError) as err:
        model.chat(CONVERSATIONS[:2], max_tokens=4)
    assert url in str(err.value) and "3 attempts" in str(err.value)
    assert time.perf_counter() - start < 10
    with pytest.raises(ModelError, match=url):  # no model named: asks the server, which is down
        load_model(f"openai:{url}", max_retries=0)


def test_default_model_conversion_is_atomic_and_done_once(tmp_path, monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from policies.models import smollm2

    converted: list[str] = []

    def fake_convert(gguf, out) -> None:  # stands in for the 30 s de-quantisation
        converted.append(str(out))
        time.sleep(0.2)
        for name in ("config.json", "tokenizer_config.json"):
            (out / name).write_text("{}")

    monkeypatch.setenv("GOME_MODEL_DIR", str(tmp_path))
    monkeypatch.setattr(smollm2, "_convert", fake_convert)
    with ThreadPoolExecutor(4) as pool:
        folders = list(pool.map(lambda _: smollm2.converted_dir(), range(4)))
    assert len(converted) == 1 and len(set(folders)) == 1
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [smollm2.FOLDER_NAME]

    monkeypatch.setenv("GOME_MODEL_DIR", str(tmp_path / "failing"))
    monkeypatch.setattr(smollm2, "_convert", lambda gguf, out: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        smollm2.converted_dir()
    assert [p.name for p in (tmp_path / "failing").iterdir()] == [f".{smollm2.FOLDER_NAME}.lock"]


def test_llamacpp_missing_says_how_to_install() -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        with pytest.raises(ModelError, match="pip install llama-cpp-python"):
            load_model("llamacpp:smollm2")
    else:
        pytest.skip("llama-cpp-python is installed: test_llamacpp_generates covers it")


def test_llamacpp_generates() -> None:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (a ~19 min source build)")
    model = load_model("llamacpp:smollm2")
    assert model.context_window == 4096  # n_ctx
    out = model.chat(CONVERSATIONS, temperature=0, max_tokens=8)
    assert all(c.text.strip() and 1 <= c.completion_tokens <= 8 for c in out)
    assert out[0].prompt_tokens < out[1].prompt_tokens < out[2].prompt_tokens  # input order
    structured = model.chat(JSON_QUESTION, max_tokens=40, json_schema=SCHEMA)
    assert json.loads(structured[0].text)["answer"] in ("yes", "no")


# ---- the bundled default model on the CPU (transformers) ----------------------------------------


def _prompt_lengths(model, conversations) -> list[int]:
    tok = model.tokenizer
    return [len(tok.apply_chat_template(c, add_generation_prompt=True, tokenize=True)["input_ids"]) for c in conversations]


def test_default_model_generates_text_in_input_order(hf_model) -> None:
    assert hf_model.spec == "smollm2"
    before = hf_model.usage.snapshot()
    out = hf_model.chat(CONVERSATIONS, temperature=0, max_tokens=12)
    assert all(isinstance(c, Completion) and c.text.strip() for c in out)
    expected = _prompt_lengths(hf_model, CONVERSATIONS)
    assert len(set(expected)) == len(expected)  # distinct lengths, so the order check means something
    assert [c.prompt_tokens for c in out] == expected
    assert [hf_model.count_tokens(c) for c in CONVERSATIONS] == expected  # what budgets check before a call
    assert all(1 <= c.completion_tokens <= 12 and c.finish_reason in ("stop", "length") for c in out)
    assert any(c.finish_reason == "length" for c in out)  # 12 tokens cut the code answer short
    spent = hf_model.usage - before
    assert spent.calls == 1 and spent.completion_tokens == sum(c.completion_tokens for c in out)
    assert spent.seconds > 0
    # the context window memories are fitted to: the model config's max_position_embeddings
    assert hf_model.context_window == hf_model.model.config.max_position_embeddings > 0


def test_default_model_seed_n_and_stop(hf_model) -> None:
    kwargs = dict(temperature=1.0, max_tokens=8, n=2, seed=7, stop=["\n"])
    first = hf_model.chat(CONVERSATIONS[:1], **kwargs)
    assert first[0].texts == hf_model.chat(CONVERSATIONS[:1], **kwargs)[0].texts
    assert len(first[0].texts) == 2 and not any("\n" in t for t in first[0].texts)
    with pytest.raises(ModelError, match="JSON schema"):
        hf_model.chat(JSON_QUESTION, json_schema=SCHEMA)


# ---- vLLM for real: in-process engine and OpenAI-compatible server -----------------------------


@pytest.mark.vllm
def test_vllm_generates_in_input_order(vllm_model, hf_model) -> None:
    out = vllm_model.chat(CONVERSATIONS, temperature=0, max_tokens=12)
    assert all(c.text.strip() for c in out)
    assert [c.prompt_tokens for c in out] == _prompt_lengths(hf_model, CONVERSATIONS)
    assert [vllm_model.count_tokens(c) for c in CONVERSATIONS] == [c.prompt_tokens for c in out]
    assert any(c.finish_reason == "length" for c in out)
    assert vllm_model.usage.completion_tokens >= sum(c.completion_tokens for c in out) > 0
    assert vllm_model.context_window == 2048  # the engine's max_model_len (the backend's setting)


@pytest.mark.vllm
def test_vllm_json_schema_output_parses(vllm_model) -> None:
    out = vllm_model.chat(JSON_QUESTION, temperature=0.8, max_tokens=40, n=2, seed=0, json_schema=SCHEMA)
    for text in out[0].texts:
        assert json.loads(text)["answer"] in ("yes", "no")


@pytest.mark.vllm
def test_openai_backend_against_vllm_server(vllm_server, hf_model) -> None:
    model = load_model(vllm_server.spec, concurrency=4)
    assert model.context_window == 2048  # the max_model_len vLLM's server lists for the model
    conversations = CONVERSATIONS * 2  # six concurrent requests: answers must come back in order
    out = model.chat(conversations, temperature=0.7, max_tokens=12, seed=1)
    assert [c.prompt_tokens for c in out] == _prompt_lengths(hf_model, conversations)
    assert all(c.text.strip() and c.latency_s > 0 for c in out)
    assert [c.text for c in model.chat(conversations[:1], temperature=0.7, max_tokens=12, seed=1)] == [out[0].text]
    structured = model.chat(JSON_QUESTION, max_tokens=40, json_schema=SCHEMA)
    assert json.loads(structured[0].text)["answer"] in ("yes", "no")
    assert model.usage.calls == 3 and model.usage.completion_tokens > 0
    model.close()
