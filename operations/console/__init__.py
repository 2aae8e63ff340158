"""The operator's web console (issue 12 item 4, docs/adr/0035): a process of its own,
server-rendered, admins only."""
