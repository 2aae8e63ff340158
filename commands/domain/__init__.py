"""The write model: aggregates, their events and their rules. Imports no driver."""
