"""Identity's stores: the account registry, credentials and refresh tokens in PostgreSQL,
signing keys on disk, rate limits in Redis."""
