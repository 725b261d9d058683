"""Command-line interface: ``hefl <command>``."""
