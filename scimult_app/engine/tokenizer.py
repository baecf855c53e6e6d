"""Find and run the WordPiece tokenizer a checkpoint was trained with (offline only)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import BertWordPieceTokenizer

from scimult_app.errors import TokenizerError

TOKENIZER_FILES = ("vocab.txt", "config.json", "tokenizer_config.json")
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
    model_config: dict = field(default_factory=dict)  # the folder's config.json, if any

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
        """Ids with special tokens, cut at `max_length`; also whether each text was cut.

        A long text is tokenized only as far as needed: a prefix ending at a space is tried
        first (CHARS_PER_TOKEN characters a token, doubled while too short), so a book costs
        what its first pages cost. A prefix cut at a space tokenizes to a prefix of the whole
        text's tokens (BERT's normalizer and pre-tokenizer work within words), so the result is
        exactly that of tokenizing everything.
        """
        room = max(0, max_length - 2)
        ids, truncated = [], []
        for tokens, cut in self._leading_tokens(texts, room):
            truncated.append(cut)
            ids.append([self.cls_id, *tokens[:room], self.sep_id])
        return ids, truncated

    def _leading_tokens(self, texts: list[str], room: int) -> list[tuple[list[int], bool]]:
        """(at least the first `room` + 1 tokens, whether there are more than `room`) per text."""
        results: list[tuple[list[int], bool] | None] = [None] * len(texts)
        budget = max(CHARS_PER_TOKEN * (room + 1), 64)
        pending = list(range(len(texts)))
        while pending:
            prefixes, whole = [], []
            for i in pending:
                prefix = _prefix_at_space(texts[i], budget)
                prefixes.append(prefix)
                whole.append(prefix is texts[i])
            encodings = self._wordpiece.encode_batch(prefixes, add_special_tokens=False)
            retry = []
            for i, encoding, complete in zip(pending, encodings, whole):
                tokens = encoding.ids
                if complete or len(tokens) > room:
                    results[i] = (tokens, len(tokens) > room)
                else:  # the prefix was too short to decide: try a longer one
                    retry.append(i)
            pending, budget = retry, budget * 4
        return results  # type: ignore[return-value]

    def count_tokens(self, texts: list[str], limit: int | None = None) -> list[int]:
        """Token counts including [CLS] and [SEP]; with `limit`, counts above it are reported
        as `limit + 1` without tokenizing the rest of the text."""
        if limit is None:
            return [len(e.ids) + 2 for e in self._wordpiece.encode_batch(texts, add_special_tokens=False)]
        room = max(0, limit - 2)
        return [min(len(tokens), room + 1) + 2 for tokens, _ in self._leading_tokens(texts, room)]


CHARS_PER_TOKEN = 12  # first guess of characters per token for a prefix; English is ~4-6
_SPACES = (" ", "\n", "\t", "\r")


def _prefix_at_space(text: str, budget: int) -> str:
    """`text` itself when it is no longer than `budget` characters, else its longest prefix
    within the budget that ends before an ASCII space, tab or line break (the text itself
    when there is none)."""
    if len(text) <= budget:
        return text
    cut = max(text.rfind(space, 0, budget + 1) for space in _SPACES)
    return text[:cut] if cut > 0 else text


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


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
    model_config = _read_json(folder / "config.json")
    return Tokenizer(vocab, lowercase, found_by, model_config.get("num_attention_heads"), model_config)


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
