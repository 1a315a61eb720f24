"""Lets users run `python -m cinelake` where the console script is not on PATH (Docker, Lambda)."""

from cinelake.cli import main

raise SystemExit(main())
