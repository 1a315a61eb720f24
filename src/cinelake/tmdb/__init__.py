"""Stage 1B: complement the CSVs with TMDB, landed raw and exactly once.

A service, in layers of its own: `client` (HTTP, with `ratelimit` and `retry`) answers
requests; `plans`, `outcomes` and `find_hits` are pure rules; `engine` runs one phase exactly
once (`phase` holds what a phase is given and gives back, `checkpoints` what it leaves in the
lake); `request` checks what was asked, `inputs` turns it into plan items and an identity,
`planning` saves the plan, `rounds` retries failures, and `service` ties them into
`run_tmdb_ingest`; `tracked`, `refresh`, `daily` and `by_imdb` build the daily job on top. It
may import the lake rules, the store and the leaf modules; never a shell (`cli`,
`aws_lambda`) or `csv_ingest`.
"""
