"""Stage 1B: complement the CSVs with TMDB, landed raw and exactly once."""
