"""Static HTML leaderboard built from result files."""
