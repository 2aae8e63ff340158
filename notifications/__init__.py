"""Notifications: domain events turned into messages (templates per locale), sent over
channels (email over SMTP, signed outgoing webhooks), with receipts, retries, preferences."""
