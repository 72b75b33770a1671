"""Reports for command-center meetings: daily dispatch, weekly review, monthly evaluation.

`queries` reads a window from the warning store, `metrics` computes a period's numbers,
`report` assembles them with the previous period, `figures` draws the trends and `render`
writes one self-contained HTML file; `cli` adds `riskwatch report daily|weekly|monthly`.
"""

from riskwatch.alerts.reports.period import Period, ReportKind, period_for

__all__ = ["Period", "ReportKind", "period_for"]
