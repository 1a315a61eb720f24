"""What the raw zone *is*, whatever lands in it: the key layout, run manifests, `status`, `verify`.

It may import the store interface and the leaf modules (errors, checksums, settings); it never
imports a service (`csv_ingest`, `tmdb`) or a shell (`cli`, `aws_lambda`).
"""
