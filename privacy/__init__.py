"""Privacy: which event fields are personal, how they are sealed per user (crypto-shredding),
consent, the audit log and the export of a user's data."""
