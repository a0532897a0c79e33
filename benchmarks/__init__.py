"""Benchmarks of the line: webhook throughput and latency against a Flask ceiling, start-up, memory, check."""
