"""The disposal queue's policy: lifecycle, routing and deadlines, escalation, silences, publication, outcomes."""
