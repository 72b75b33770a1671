"""`riskwatch backtest`: score detectors and the whole pipeline against labelled data.

Two modes.

**Scenarios** (`--scenario NAME|PATH`, or `--recorded DIR` with `hotline.jsonl`, `police.jsonl`,
`sensor.jsonl` and `ground_truth.json`): each scenario is simulated to files, the offline
pipeline (the stages `riskwatch.streams.replay` chains: normalize → event-time gate → detectors
→ grading) runs over them with the chosen config, and what it raised is matched to the
ground-truth incidents:

- a **warning** matches an incident when it is placed in the incident's street (or its district,
  for a district-level warning), its category is in the same category group (`grading.yaml`)
  as one of the incident's expected categories, and it was published within [incident start,
  incident end + tolerance] — as an Alert, or as an Update when a warning already open in that
  street and group is raised by the incident's evidence (its delay is then that Update's time);
- a **signal** matches the same way by its region, category and event time, and counts for the
  configured detector that raised it (`count_trend/cold_start` for `count_trend`); a `health` signal
  matches only sensor-health incidents (`expected_level: null`) and any other signal only
  incidents that should reach the command center. A warning that matches only a sensor-health
  incident is a false warning: such faults belong to maintenance.

Per scenario and overall, for the pipeline's warnings, for each detector's signals and for all
`health` signals together: detection rate, median and 90th-percentile delay (first match −
incident start), and false warnings (or signals) per district per day — those matching no
incident, over every district of the city for the scenario's length — plus events/s of the run.

**CSV** (`--csv FILE`, columns `timestamp,value,label` with label 0/1 per row): the series goes
through a registered series detector and points scoring at least `--threshold` are alarms.
Scoring is event-wise: each maximal run of label 1 is an anomaly window, detected when any alarm
falls inside it; each maximal run of consecutive alarms lying wholly outside every window is one
false alarm. Precision = detected / (detected + false alarms), recall = detected / windows;
delay = first alarm in a window − the window's start; false alarms per day over the series' span.

Both modes write `--out DIR/report.html` (self-contained, plots as embedded PNGs) when `--out`
is given, and `--json` prints the metrics as JSON instead of tables.

The modules, each importing only those before it:

- `truth`: ground-truth incidents, labelled series, warnings and signals as detections, matching;
- `runner`: a scenario simulated and replayed through the offline pipeline, with what it raised;
- `scoring`: detection rates, delays and false findings of runs; event-wise scores of series;
- `tables`: the rows and text tables both the terminal and the HTML report show;
- `plots`: matplotlib figures of an incident or a labelled series, as base64 PNG;
- `report`: the HTML report, rendered by the reports' Jinja2 environment (`templates/`);
- `cli`: the `backtest` command; it imports the rest only when it runs, so `riskwatch --help`
  stays fast and `detectors` is not tied to `streams` at import time.
"""
