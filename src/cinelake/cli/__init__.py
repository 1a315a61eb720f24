"""The `cinelake` command line: argparse shells over the services, one module per command group.

`app` parses and maps errors to exit codes; `common` holds what the groups share; each group
module (`ingest_csv`, `ingest_tmdb`, `ops`, `lambda_commands`) turns flags into a request and
a result into lines. It may import anything below it; nothing outside `cinelake.cli` imports it.
"""

from cinelake.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
