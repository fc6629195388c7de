"""Transports and their failures: git:// errors, smart HTTP with a token or a git
credential helper, ssh:// through the program ``GIT_SSH_COMMAND`` names."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from auditpipe.ledger import sync
from auditpipe.workspace import Workspace
from tests.conftest import Project, Result, git
from tests.integration import test_ledger_sync as base
from tests.integration.test_ledger_sync import (
    LEDGER,
    GitServer,
    append,
    clone,
    entries_at,
    free_port,
    head,
)

daemon, origin, cli_in = base.daemon, base.origin, base.cli_in  # shared fixtures


def test_bad_remotes_exit_2_with_a_hint(
    project: Project, origin: GitServer, cli_in: Callable[..., Result], tmp_path: Path
) -> None:
    before = head(project.root)
    unknown = cli_in(project.root, "ledger", "pull", "upstream")
    assert unknown.code == 2
    assert "no git remote named 'upstream'" in unknown.err and "origin" in unknown.err

    dead = f"git://127.0.0.1:{free_port()}/ledger.git"
    for verb in ("pull", "push"):
        result = cli_in(project.root, "ledger", verb, dead)
        assert result.code == 2, result.err
        assert f"cannot reach {dead}" in result.err and "check the URL" in result.err

    missing = cli_in(project.root, "ledger", "pull", origin.url("nothere.git"))
    assert missing.code == 2 and "nothere.git" in missing.err
    not_repo = cli_in(project.root, "ledger", "push", str(tmp_path))
    assert not_repo.code == 2 and "not a git repository" in not_repo.err
    assert "Traceback" not in unknown.err + missing.err + not_repo.err
    assert head(project.root) == before
    git(origin.base, "init", "-q", "--bare", "empty.git")
    empty = cli_in(project.root, "ledger", "pull", origin.url("empty.git"))
    assert empty.code == 0 and "has no ledger yet" in empty.out
    # `auditpipe init` in a repository without that remote simply starts a ledger.
    assert sync.fetch_existing_ledger(Workspace.discover(project.root), "upstream") is False


def _basic_auth(app: Any, token: str) -> Any:
    expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()

    def guarded(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"unauthorized\n"]
        return app(environ, start_response)

    return guarded


@pytest.fixture
def http_remote(origin: GitServer) -> Iterator[str]:
    """The same bare repository over smart HTTP (dulwich's WSGI server), behind basic auth."""
    from wsgiref.simple_server import make_server

    from dulwich.repo import Repo
    from dulwich.server import DictBackend
    from dulwich.web import WSGIRequestHandlerLogger, WSGIServerLogger, make_wsgi_chain

    repo = Repo(str(origin.bare()))
    app = _basic_auth(make_wsgi_chain(DictBackend({"/ledger.git": repo})), "s3cret")
    server = make_server("127.0.0.1", 0, app, WSGIServerLogger, WSGIRequestHandlerLogger)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ledger.git"
    finally:
        server.shutdown()
        server.server_close()
        repo.close()


def test_smart_http_takes_a_token_or_a_git_credential_helper(
    project: Project,
    http_remote: str,
    cli_in: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    append(project.root, "train", 1)
    denied = cli_in(project.root, "ledger", "push", http_remote)
    assert denied.code == 2
    assert "authentication failed" in denied.err and "AUDITPIPE_GIT_TOKEN" in denied.err

    monkeypatch.setenv("AUDITPIPE_GIT_TOKEN", "s3cret")
    assert cli_in(project.root, "ledger", "push", http_remote).code == 0
    monkeypatch.delenv("AUDITPIPE_GIT_TOKEN")

    append(project.root, "train", 1)
    helper = "!f() { echo username=x-access-token; echo password=s3cret; }; f"
    project.git("config", "credential.helper", helper)
    pushed = cli_in(project.root, "ledger", "push", http_remote)
    assert pushed.code == 0, pushed.err
    assert "pushed 1 entry" in pushed.out
    assert cli_in(project.root, "ledger", "pull", http_remote).code == 0


# Stands in for ssh (there is no sshd here): drops ssh's options and the host,
# then runs the remote command (git-upload-pack / git-receive-pack) locally.
FAKE_SSH = """#!/bin/sh
while [ "${1#-}" != "$1" ]; do
  case "$1" in -p|-i|-o|-l) shift ;; esac
  shift
done
shift
exec sh -c "$*"
"""


def test_ssh_urls_go_through_the_ssh_program_named_by_git_ssh_command(
    project: Project,
    origin: GitServer,
    tmp_path: Path,
    cli_in: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = tmp_path / "fake-ssh"
    fake.write_text(FAKE_SSH)
    fake.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake))
    url = f"ssh://git@localhost{origin.bare()}"
    ids = append(project.root, "train", 2)
    pushed = cli_in(project.root, "ledger", "push", url)
    assert pushed.code == 0, pushed.err
    assert entries_at(origin.bare(), LEDGER) == set(ids)
    other = clone(origin, tmp_path / "other")
    assert cli_in(other, "ledger", "pull", url).code == 0
    assert head(other) == head(project.root)
