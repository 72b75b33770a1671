"""Grading as stages: fuse signals into incidents, score and level them, mute, deduplicate, publish."""
