"""`python -m riskwatch.tools.score`: `riskwatch score` on its own."""

from riskwatch.tools.score.cli import main

main()
