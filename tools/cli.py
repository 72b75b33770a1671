"""The `riskwatch` command: one typer app, to which each command group adds itself from its own module.

Command modules import only typer, the standard library and each other at the top; whatever a
command needs (the config's pydantic models, Faust, Kafka clients, SQLAlchemy, FastAPI, numpy,
pandas, matplotlib, the detectors) is imported in its body. So `riskwatch --help` and every
`riskwatch <cmd> --help` load none of it (tests/unit/test_cli_imports.py checks).
"""

from __future__ import annotations

import typer

from riskwatch.tools import (
    api_cli,
    bench_cli,
    check_cli,
    config_cli,
    db_cli,
    demo_cli,
    disposal_cli,
    pipeline_cli,
    report_cli,
    simulate_cli,
    topics_cli,
)
from riskwatch.tools.backtest import cli as backtest_cli
from riskwatch.tools.score import cli as score_cli

__all__ = ["app", "main"]

app = typer.Typer(help="Streaming risk early warnings for city and county governance.", no_args_is_help=True)

# In this order `--help` lists the commands: worker, replay, demo, simulate, tail, check, bench, backtest,
# score, api; then the groups: config, topics, schema, db, token, disposal, report.
for _module in (config_cli, pipeline_cli, demo_cli, simulate_cli, topics_cli, check_cli, bench_cli, backtest_cli,
                score_cli, db_cli, disposal_cli, report_cli, api_cli):
    _module.register(app)


def main() -> None:
    """Run the `riskwatch` command (the console script and `python -m riskwatch.tools`)."""
    app()


if __name__ == "__main__":
    main()
