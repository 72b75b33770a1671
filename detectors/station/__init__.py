"""Multivariate station detectors: all the channels of one site scored jointly."""
