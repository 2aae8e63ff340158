"""Benchmarks: each prints its figure beside a raw anchor measured in the same run."""
