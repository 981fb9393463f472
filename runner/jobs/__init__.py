"""Job runs: the driver process (warm or cold), the warm pool, supervision, logs, timeouts, retries, bookmarks."""
