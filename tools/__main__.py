"""`python -m riskwatch.tools` is the `riskwatch` command."""

from riskwatch.tools.cli import main

main()
