"""Agents, one module per area; `streams.app` finds them by autodiscovery."""
