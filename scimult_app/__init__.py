"""SciMult Explorer's library: load SciMult checkpoints, embed, rank, compare experts.

Never imports streamlit; the app, the CLI and the tests all stand on it.
"""
