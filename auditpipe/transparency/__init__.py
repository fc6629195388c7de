"""Transparency-log primitives: RFC 6962 / 9162 Merkle trees and consistency
proofs, C2SP tlog-checkpoints and C2SP signed notes (bytes in, values out)."""
