"""The tokenizer cuts at the maximum length while tokenizing: a book costs its first pages, and
the ids and truncation flags are exactly those of tokenizing everything and cutting."""
import pytest
from variants import TOKENIZER

from scimult_app.engine.tokenizer import tokenizer_from_folder

TEXTS = [
    "",
    "short",
    "Heart failure with preserved ejection fraction [SEP] A randomised trial. " * 300,
    "word" * 5000,  # no space at all: one [UNK]-sized word
    "Ünïcödé tèxt —\twith accents,\nCRISPR-Cas9 and 12.5 mg/kg dosing; " * 200,
    ("supercalifragilistic" * 8 + " ") * 300,  # words over the WordPiece length limit: [UNK] each
    "a " * 3000,
    "x\u0301 " * 2000 + "end",
    "tumour " * 600,
]


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizer_from_folder(TOKENIZER, "test")


def _whole(tokenizer, texts, max_length):
    """The plain way: tokenize every text entirely, then cut."""
    room = max_length - 2
    ids, cut = [], []
    for encoding in tokenizer._wordpiece.encode_batch(texts, add_special_tokens=False):
        ids.append([tokenizer.cls_id, *encoding.ids[:room], tokenizer.sep_id])
        cut.append(len(encoding.ids) > room)
    return ids, cut


@pytest.mark.parametrize("max_length", [2, 3, 8, 64, 512, 2048])
def test_cut_while_tokenizing_equals_tokenizing_everything(tokenizer, max_length):
    assert tokenizer.encode(TEXTS, max_length) == _whole(tokenizer, TEXTS, max_length)


def test_counts_with_a_limit(tokenizer):
    full = tokenizer.count_tokens(TEXTS)
    limited = tokenizer.count_tokens(TEXTS, limit=64)
    assert limited == [n if n <= 64 else 65 for n in full]


def test_a_book_is_not_tokenized_whole(tokenizer, monkeypatch):
    book = "The patient was admitted with chest pain and shortness of breath. " * 80_000  # 5 MB
    seen = []
    real = tokenizer._wordpiece.encode_batch

    def recording(texts, **kwargs):
        seen.extend(len(text) for text in texts)
        return real(texts, **kwargs)
    monkeypatch.setattr(tokenizer._wordpiece, "encode_batch", recording)
    ids, cut = tokenizer.encode([book, "short"], 512)
    assert cut == [True, False] and len(ids[0]) == 512
    assert sum(seen) < 20_000  # characters that reached WordPiece, of 5.4 million
    assert tokenizer.count_tokens([book], limit=512) == [513]
    assert sum(seen) < 40_000
