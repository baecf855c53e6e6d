"""What a long-running app needs beyond the library: background jobs, a bounded vector memo, uploads."""
