"""The Faust stream processors: topics, agents that feed the projections, dead letters."""
