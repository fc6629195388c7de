"""Approvals: signed sign-offs by people in roles, and the separation-of-duties count."""
