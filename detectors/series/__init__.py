"""Univariate streaming detectors: one number at a time in, a causal anomaly score in [0, 1] out."""
