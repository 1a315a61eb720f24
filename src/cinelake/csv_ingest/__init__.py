"""Stage 1A: land local CSV files in the raw zone byte for byte."""
