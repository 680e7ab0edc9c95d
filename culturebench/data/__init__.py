"""Data bundled with culturebench: the benchmark seed files."""
