"""The benchmarks bench/run runs: one module each, with NAME, DESCRIPTION, ORDER, describe(ctx), once(ctx, index)
returning {metric: value}, metrics(ctx) and optionally ratios(ctx), NEEDS_PEERS and RUNS."""
