"""Stage 1: the SciMult model, safe checkpoint reading, tokenizer, loading, the embedder and its cache."""
