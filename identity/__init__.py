"""Identity and access: accounts, passwords, OAuth2 tokens, signing keys, throttling, and
the FastAPI dependencies and error envelope both APIs use."""
