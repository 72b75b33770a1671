"""`python -m riskwatch` is the `riskwatch` command."""

from riskwatch.cli import main

main()
