"""People and their roles: who a signature belongs to, and who may approve what."""

from auditpipe.people.load import PEOPLE_FILE, load_people, people_from_worktree, people_of
from auditpipe.people.model import People, Person

__all__ = ["PEOPLE_FILE", "People", "Person", "load_people", "people_from_worktree", "people_of"]
