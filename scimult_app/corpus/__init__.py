"""Stage 2: documents and every input format, corpora kept by name, label sets, the demo data."""
