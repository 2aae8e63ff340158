"""One module per PostgreSQL read model (docs/read-models.md): DDL, statements, pure fold."""
