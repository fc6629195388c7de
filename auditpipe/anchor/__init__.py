"""Anchored verification: the ledger checked against every checkpoint this
verifier knows (the lock's, the trust ref's, this clone's last), and its
derived index checked against the entries, before anything is read through it."""
