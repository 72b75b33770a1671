"""`riskwatch score`: run a series detector over CSV files, the way streaming benchmarks call it.

    riskwatch score [--config FILE] [--detector NAME] --out DIR INPUT...

Each INPUT is a CSV with a header naming the columns ``timestamp`` and ``value`` (others are
ignored). Timestamps look like ``2014-04-01 00:00:00`` (naive means UTC) or ISO 8601 with an
offset. Each file gets a fresh detector that scores its rows causally, in file order, and
``DIR/<input file name>`` receives ``timestamp,value,anomaly_score`` row for row: the timestamp
and value text exactly as read, the score in [0, 1]. A row whose value is missing or not a
finite number (or whose timestamp cannot be read) is written unchanged with the previous row's
score (0 before the first good row) and is not shown to the detector.

``--detector`` picks a registered series detector (default: ``default``). ``--config`` names a
YAML file ``{detector: NAME, params: {...}}``; the params are checked against the detector's
constructor, and every error names the file and the field. ``--detector`` given as well wins
over the file's ``detector``.

All inputs are scored by one process (imports happen once); with several files and enough rows,
two worker processes share them. ``python -m riskwatch.tools.score ...`` runs the same command on
its own.

    riskwatch score --station [--config FILE] [--detector NAME] --out DIR INPUT...

scores stations instead: each INPUT has a ``timestamp`` column and any numeric columns (the
channels), and ``DIR/<input file name>`` receives ``timestamp,anomaly_score,is_anomaly`` from a
station detector (default: ``station``) and its own threshold; see `station`.

`scoring` does the work (`station` for ``--station``); `cli` is the command, which imports them
only when it runs.
"""
