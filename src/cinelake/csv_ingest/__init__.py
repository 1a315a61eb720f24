"""Stage 1A: land local CSV files in the raw zone byte for byte.

A service: `run` lands and `profile` observes (never fixes). It may import the lake rules, the
store and the leaf modules; never a shell (`cli`, `aws_lambda`) or the other service (`tmdb`).
"""
