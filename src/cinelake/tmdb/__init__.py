"""Stage 1B: complement the CSVs with TMDB, landed raw and exactly once.

A service, in layers of its own: `client` (HTTP, with `ratelimit` and `retry`) answers
requests; `plans` and `outcomes` are pure rules; `engine` runs one phase exactly once;
`request` checks what was asked, `inputs` turns it into plan items and an identity, `rounds`
retries failures, and `service` ties them into `run_tmdb_ingest`. It may import the lake
rules, the store and the leaf modules; never a shell (`cli`, `aws_lambda`) or `csv_ingest`.
"""
