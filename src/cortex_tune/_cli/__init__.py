"""The command line's parts; :mod:`cortex_tune.cli` is its entry point."""
