"""lm-evaluation-harness task files (`culture_*`) and their helper functions."""
