"""``python -m cortex_tune``: the command line."""

from cortex_tune.cli import main

main()
