"""The HTTP face of identity: the error envelope, auth dependencies, /auth routes and
middleware, used by the command API and the query API alike."""
