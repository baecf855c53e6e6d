"""Vector sets on disk (per corpus, model, expert and side), filling them, and searching them."""
