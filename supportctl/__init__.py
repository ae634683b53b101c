"""supportctl: ticket operations for support teams, over PostgreSQL."""

__version__ = "0.1.0"
