"""Static HTML leaderboard built from result files."""

from culturebench.leaderboard.site import SiteSummary, build_site

__all__ = ["SiteSummary", "build_site"]
