"""Stage 3: from vectors to answers: rankings, metrics, neighbours, maps, labels, expert comparison."""
