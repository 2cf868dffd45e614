"""Clients of Chronicle's APIs, in Python."""
