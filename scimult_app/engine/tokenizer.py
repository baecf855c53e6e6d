"""Find and run the WordPiece tokenizer a checkpoint was trained with (offline only)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from tokenizers import BertWordPieceTokenizer

from scimult_app.errors import TokenizerError

BIOMEDBERT = "microsoft/BiomedNLP-BiomedBERT-base-uncased-abstract"
# the backbone was renamed after the checkpoints were written; look for either name
ALIASES = {
    "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract": BIOMEDBERT,
    BIOMEDBERT: "microsoft/BiomedNLP-PubMedBERT-base-uncased-abstract",
}


@dataclass
class Tokenizer:
    """Turns texts into `[CLS] ... [SEP]` id lists, truncated to a maximum length."""
    vocab_file: Path
    lowercase: bool
    found_by: str
    num_attention_heads: int | None = None

    def __post_init__(self) -> None:
        self._wordpiece = BertWordPieceTokenizer(str(self.vocab_file), lowercase=self.lowercase)
        self.cls_id = self._id("[CLS]")
        self.sep_id = self._id("[SEP]")
        self.pad_id = self._id("[PAD]")
        self.sep_token = "[SEP]"
        self.vocab_size = self._wordpiece.get_vocab_size()

    def _id(self, token: str) -> int:
        token_id = self._wordpiece.token_to_id(token)
        if token_id is None:
            raise TokenizerError(f"{self.vocab_file} has no {token} token; it is not a BERT "
                                 "WordPiece vocabulary.")
        return token_id

    def encode(self, texts: list[str], max_length: int) -> tuple[list[list[int]], list[bool]]:
        """Ids with special tokens, cut at `max_length`; also whether each text was cut."""
        encodings = self._wordpiece.encode_batch(texts, add_special_tokens=False)
        ids, truncated = [], []
        room = max_length - 2
        for encoding in encodings:
            tokens = encoding.ids
            truncated.append(len(tokens) > room)
            ids.append([self.cls_id, *tokens[:room], self.sep_id])
        return ids, truncated

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Token counts including [CLS] and [SEP], before truncation."""
        return [len(e.ids) + 2 for e in self._wordpiece.encode_batch(texts, add_special_tokens=False)]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def tokenizer_from_folder(folder_or_vocab: Path, found_by: str) -> Tokenizer:
    """A folder with vocab.txt (and usually config.json), or a vocab.txt file itself."""
    path = Path(folder_or_vocab)
    vocab = path if path.is_file() else path / "vocab.txt"
    folder = vocab.parent
    if not vocab.is_file():
        raise TokenizerError(f"{path} has no vocab.txt. Point at the backbone's folder as "
                             "downloaded from the Hugging Face hub (vocab.txt, config.json), "
                             "or at the vocab.txt file itself.")
    settings = _read_json(folder / "tokenizer_config.json")
    lowercase = bool(settings.get("do_lower_case", True))
    heads = _read_json(folder / "config.json").get("num_attention_heads")
    return Tokenizer(vocab, lowercase, found_by, heads)


def huggingface_cache_dirs() -> list[Path]:
    dirs = []
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        if os.environ.get(variable):
            dirs.append(Path(os.environ[variable]))
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    dirs.append(Path(home) / "hub")
    return dirs


def find_in_huggingface_cache(backbone: str) -> Path | None:
    """The snapshot folder of `backbone` (or its renamed twin) holding vocab.txt, if cached."""
    names = [backbone] + ([ALIASES[backbone]] if backbone in ALIASES else [])
    for cache in huggingface_cache_dirs():
        for name in names:
            snapshots = cache / f"models--{name.replace('/', '--')}" / "snapshots"
            for vocab in sorted(snapshots.glob("*/vocab.txt")):
                return vocab.parent
    return None


def resolve_tokenizer(explicit: str | Path | None, backbone: str | None,
                      checkpoint: Path, vocab_rows: int) -> Tokenizer:
    """Explicit folder or vocab.txt; else the backbone in the local HF cache; else a clear error."""
    if explicit:
        tokenizer = tokenizer_from_folder(Path(explicit), f"given: {explicit}")
    elif checkpoint.is_dir() and (checkpoint / "vocab.txt").is_file():
        tokenizer = tokenizer_from_folder(checkpoint, "the model folder")
    elif backbone and (cached := find_in_huggingface_cache(backbone)):
        tokenizer = tokenizer_from_folder(cached, f"Hugging Face cache: {cached}")
    else:
        trained_with = backbone or "an unrecorded backbone"
        hint = ""
        if backbone in ALIASES or backbone == BIOMEDBERT:
            hint = (f" (renamed {BIOMEDBERT}; the released SciMult checkpoints use its uncased "
                    "WordPiece vocabulary)")
        raise TokenizerError(
            f"No tokenizer for {checkpoint}: it was trained with the vocabulary of "
            f"{trained_with}{hint}, which is not in the local Hugging Face cache. Download "
            "that model's folder (at least vocab.txt and config.json) on a machine with "
            "internet and point at it with --tokenizer FOLDER (in the app: the tokenizer "
            "folder field).")
    if tokenizer.vocab_size > vocab_rows:
        raise TokenizerError(
            f"{tokenizer.vocab_file} has {tokenizer.vocab_size} tokens but {checkpoint} has "
            f"{vocab_rows} word embeddings: this is not the vocabulary the checkpoint was "
            f"trained with ({backbone or 'unknown backbone'}). Point at the right folder.")
    return tokenizer
