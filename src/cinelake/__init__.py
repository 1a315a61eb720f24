"""cinelake: the raw zone of a movies & series data lake, landed exactly as received."""

__version__ = "0.1.0"
