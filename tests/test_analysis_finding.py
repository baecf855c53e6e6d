"""Finding papers for a big corpus's picker: by id, by words of the title, then of the text."""
from scimult_app.analysis.finding import find_papers
from scimult_app.corpus.documents import Document

DOCS = [
    Document(id="reef-1", title="Coral bleaching", abstract="Warm seas stress reefs."),
    Document(id="heart-2", title="Heart failure", abstract="Coral-coloured stains; bleaching."),
    Document(id="REEF-10", title="Kelp", abstract="Forests of kelp."),
    Document(id="note-4", text="A note on coral BLEACHING in the Red Sea."),
    Document(id="reef", title="Sponges", abstract="Filter feeders."),
]


def test_exact_id_then_id_or_title_then_text_in_corpus_order():
    assert find_papers(DOCS, "reef") == ([4, 0, 2], 3)  # the id itself first, then ids holding it
    assert find_papers(DOCS, "  Coral   BLEACHING ") == ([0, 1, 3], 3)  # title first, then text
    assert find_papers(DOCS, "heart-2") == ([1], 1)
    assert find_papers(DOCS, "heart stains") == ([1], 1)  # words across title and abstract
    assert find_papers(DOCS, "warm sea") == ([0], 1)  # words match inside longer words
    assert find_papers(DOCS, "coral kelp") == ([], 0)


def test_limit_keeps_the_count_and_an_empty_query_lists_the_first_papers():
    assert find_papers(DOCS, "e", limit=2) == ([0, 1], 5)
    assert find_papers(DOCS, "", limit=3) == ([0, 1, 2], 5)
    assert find_papers(DOCS, "   ", limit=10) == ([0, 1, 2, 3, 4], 5)
    assert find_papers([], "coral") == ([], 0)
