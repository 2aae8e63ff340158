"""Provisioning and supervision of the real local stack, without Docker."""
