"""The TMDB emulator and its catalogue: a stand-in for TMDB in tests, benchmarks and `make demo`.

Not shipped to Lambda. It imports nothing else of cinelake, and only tests, benchmarks and
scripts import it.
"""
