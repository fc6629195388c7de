"""Bad pipeline files: each is a ConfigError naming the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditpipe.errors import ConfigError
from auditpipe.pipeline.spec import load_pipeline

S = "stages:\n  s:\n    cmd: run\n"  # one valid stage; lines 1-3

# (id, file text, expected line, phrase of the message)
CASES: list[tuple[str, str, int, str]] = [
    ("syntax", "stages:\n  s: x\n t: y\n", 3, "invalid YAML"),
    ("tab", "stages:\n\ts: {}\n", 2, "invalid YAML"),
    ("control-char", "stages:\n  s:\n    cmd: a\x07\n", 3, "invalid YAML"),
    ("two-documents", "stages: {}\n---\nstages: {}\n", 2, "invalid YAML"),
    ("top-is-list", "- stages\n", 1, "the top level must be a mapping, not a list"),
    ("top-is-scalar", "hello\n", 1, "the top level must be a mapping, not a string"),
    (
        "unknown-top-key",
        "stages: {}\nvariables: [x]\n",
        2,
        "unknown key 'variables' in the top level",
    ),
    ("unknown-stage-key", S + "    dep: [a]\n", 4, "unknown key 'dep' in stage 's'"),
    (
        "duplicate-stage",
        S + "  s:\n    cmd: again\n",
        4,
        "duplicate key 's' (first defined at line 2)",
    ),
    ("duplicate-field", S + "    cmd: again\n", 4, "duplicate key 'cmd'"),
    ("stages-is-list", "stages: [a, b]\n", 1, "stages must be a mapping, not a list"),
    ("stage-is-string", "stages:\n  s: run\n", 2, "stage 's' must be a mapping, not a string"),
    ("deps-int", S + "    deps: 3\n", 4, "deps must be a list of strings, not an integer"),
    ("deps-string", S + "    deps: a.py\n", 4, "deps must be a list of strings, not a string"),
    (
        "deps-entry-mapping",
        S + "    deps:\n      - m: {cache: false}\n",
        5,
        "must be a string, not a mapping",
    ),
    (
        "cmd-list-of-int",
        "stages:\n  s:\n    cmd: [1]\n",
        3,
        "each entry of cmd must be a string, not an integer",
    ),
    ("cmd-empty", "stages:\n  s:\n    cmd: '  '\n", 3, "cmd of stage 's' is empty"),
    ("cmd-empty-list", "stages:\n  s:\n    cmd: []\n", 3, "cmd of stage 's' is empty"),
    ("content-maybe", S + "    content: maybe\n", 4, "content must be true or false, not 'maybe'"),
    ("desc-list", S + "    desc: [a]\n", 4, "desc must be a string, not a list"),
    ("missing-cmd", "stages:\n  s:\n    deps: [a]\n", 2, "stage 's' has no 'cmd'"),
    ("empty-name", "stages:\n  '':\n    cmd: x\n", 2, "stage name is empty"),
    ("at-in-name", "stages:\n  a@b:\n    cmd: x\n", 2, "'@' is reserved"),
    ("space-in-name", "stages:\n  my stage:\n    cmd: x\n", 2, "may only use letters"),
    (
        "cycle",
        "stages:\n  a:\n    cmd: a\n    deps: [y]\n    outs: [x]\n"
        "  b:\n    cmd: b\n    deps: [x]\n    outs: [y]\n",
        2,
        "cycle between stages: a -> b -> a",
    ),
    (
        "two-writers",
        "stages:\n  a: {cmd: a, outs: [m.pkl]}\n  b: {cmd: b, metrics: [m.pkl]}\n",
        3,
        "output 'm.pkl' is written by two stages: 'a' (line 2) and 'b'",
    ),
    (
        "nested-output",
        "stages:\n  a: {cmd: a, outs: [data/x.csv]}\n  b: {cmd: b, outs: [data]}\n",
        3,
        "output 'data/x.csv' of stage 'a' is inside output 'data' of stage 'b'",
    ),
    ("same-output-twice", S + "    outs: [a]\n    metrics: [./a]\n", 2, "lists output 'a' twice"),
    ("self-dep", S + "    deps: [m]\n    outs: [m]\n", 2, "depends on its own output 'm'"),
    ("self-dep-dir", S + "    deps: [data]\n    outs: [data/x]\n", 2, "depends on its own output"),
    ("absolute-dep", S + "    deps: [/etc/passwd]\n", 4, "'/etc/passwd' is absolute"),
    ("escaping-out", S + "    outs: [a/../../x]\n", 4, "escapes the repository root"),
    ("escaping-metrics", S + "    metrics:\n      - ../m.json\n", 5, "escapes the repository root"),
    ("escaping-wdir", S + "    wdir: ..\n", 4, "wdir '..' escapes"),
    ("git-dir-out", S + "    outs: [.git/hooks/pre-commit]\n", 4, "inside .git"),
    ("nul-in-dep", S + '    deps: ["a\\0b"]\n', 4, "contains a control character"),
    ("root-as-out", S + "    outs: [./]\n", 4, "is the repository root"),
    ("escaping-params-file", "params: ../p.yaml\nstages: {}\n", 1, "escapes"),
    (
        "absolute-suite",
        S + "    deps: [d]\n    validate: {d: /x.json}\n",
        5,
        "'/x.json' is absolute",
    ),
    (
        "validate-not-io",
        S + "    deps: [d]\n    validate:\n      e: s.json\n",
        6,
        "'e' is neither a dependency",
    ),
    ("validate-list", S + "    validate: [a]\n", 4, "validate must be a mapping, not a list"),
    (
        "foreach-and-matrix",
        "stages:\n  t:\n    foreach: [1]\n    matrix: {a: [1]}\n    do: {cmd: x}\n",
        4,
        "both foreach and matrix",
    ),
    (
        "foreach-empty",
        "stages:\n  t:\n    foreach: []\n    do: {cmd: x}\n",
        3,
        "foreach of stage 't' is empty",
    ),
    (
        "foreach-scalar",
        "stages:\n  t:\n    foreach: 3\n    do: {cmd: x}\n",
        3,
        "foreach must be a list or a mapping",
    ),
    ("matrix-empty-axis", "stages:\n  t:\n    matrix: {a: []}\n    do: {cmd: x}\n", 3, "axis 'a'"),
    ("do-missing", "stages:\n  t:\n    foreach: [1, 2]\n", 2, "has no 'do:'"),
    ("do-without-loop", "stages:\n  t:\n    do: {cmd: x}\n", 3, "needs foreach or matrix"),
    (
        "cmd-beside-foreach",
        "stages:\n  t:\n    foreach: [1]\n    cmd: x\n",
        4,
        "belongs under 'do:'",
    ),
    (
        "unresolved-field",
        "stages:\n  t:\n    foreach: [{a: 1}]\n    do:\n      cmd: run\n"
        "      outs: ['o/${item.b}']\n",
        6,
        "${item.b} does not resolve: no 'b' in ${item}",
    ),
    ("unresolved-plain", S.replace("run", "echo ${HOME}"), 3, "${HOME} does not resolve"),
    (
        "key-in-list-foreach",
        "stages:\n  t:\n    foreach: [1]\n    do:\n      cmd: run ${key}\n",
        5,
        "${key} does not resolve (available here: ${item})",
    ),
    (
        "item-is-mapping",
        "stages:\n  t:\n    foreach: [{a: 1}]\n    do:\n      cmd: run ${item}\n",
        5,
        "${item} is a mapping",
    ),
    (
        "expansion-collides",
        "stages:\n  t:\n    foreach: [1, '1']\n    do: {cmd: x}\n",
        2,
        "yields 't@1' twice",
    ),
    (
        "expansion-bad-name",
        "stages:\n  t:\n    foreach: [a b]\n    do: {cmd: x}\n",
        3,
        "expansion name 't@a b'",
    ),
    ("env-bad-name", S + "    env: [OK, 1BAD]\n", 4, "env entry '1BAD' is not a variable name"),
    ("env-interpolated", S + "    env: ['${item}']\n", 4, "does not resolve"),
    (
        "params-not-string",
        S + "    params:\n      - {other.yaml: [a]}\n",
        5,
        "each entry of params must be a string",
    ),
    ("params-bad-key", S + "    params: [a..b]\n", 4, "params entry 'a..b' is not a dotted key"),
    ("signer-unknown", "signer: gpg\nstages: {}\n", 1, "signer must be one of local, sigstore"),
    ("bad-int-tag", S + "    content: !!int nope\n", 4, "invalid value"),
    ("complex-key", "stages:\n  ? [a]\n  : {cmd: x}\n", 2, "mapping keys must be plain strings"),
    ("bad-merge", "stages:\n  s:\n    <<: [1]\n    cmd: x\n", 3, "'<<' merge key needs a mapping"),
]


def write(root: Path, text: str | bytes) -> Path:
    path = root / "auditpipe.yaml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_spec(tmp_path: Path, text: str, line: int, phrase: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_pipeline(tmp_path)
    assert phrase in err.value.message
    assert err.value.line == line, err.value.diagnostics()
    assert err.value.path == str(path.resolve())
    assert err.value.diagnostics().startswith(f"{path.resolve()}:{line}: ")


def test_unknown_key_lists_allowed_keys_and_suggests_the_nearest(tmp_path: Path) -> None:
    write(tmp_path, S + "    dependencies: [a]\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline(tmp_path)
    assert (
        "allowed: cmd, deps, outs, metrics, params, validate, wdir, env, content, desc"
        in err.value.message
    )
    assert err.value.hint == "did you mean 'deps'?"


def test_wrong_list_type_says_how_to_write_it(tmp_path: Path) -> None:
    write(tmp_path, S + "    outs: model.pkl\n")
    with pytest.raises(ConfigError) as err:
        load_pipeline(tmp_path)
    assert err.value.hint == "write `outs: [a, b]`"


def test_unquoted_interpolation_in_flow_list_gets_a_quoting_hint(tmp_path: Path) -> None:
    write(
        tmp_path,
        "stages:\n  t:\n    foreach: [1]\n    do:\n      cmd: x\n      outs: [m-${item}]\n",
    )
    with pytest.raises(ConfigError) as err:
        load_pipeline(tmp_path)
    assert err.value.line == 6
    assert err.value.hint is not None and "quote" in err.value.hint


def test_missing_file_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_pipeline(tmp_path)
    assert "auditpipe.yaml not found" in err.value.message
    assert err.value.hint is not None and "auditpipe init" in err.value.hint
    assert err.value.line is None


def test_pipeline_file_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    write(tmp_path, S)
    with pytest.raises(ConfigError, match="outside the repository"):
        load_pipeline(tmp_path / "repo", tmp_path / "auditpipe.yaml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "auditpipe.yaml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load_pipeline(tmp_path)


# An unreadable pipeline or params file: tests/integration/test_faults.py (as root too).


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, b"stages:\n  s:\n    cmd: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8") as err:
        load_pipeline(tmp_path)
    assert err.value.line == 3


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    write(tmp_path, text)
    with pytest.raises(ConfigError, match="empty") as err:
        load_pipeline(tmp_path)
    assert err.value.hint is not None and "stages:" in err.value.hint


def test_deep_nesting(tmp_path: Path) -> None:
    write(tmp_path, "stages: " + "[" * 5000)
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_pipeline(tmp_path)


def test_huge_matrix_is_refused_before_expanding(tmp_path: Path) -> None:
    axis = "[" + ", ".join(str(i) for i in range(200)) + "]"
    write(tmp_path, f"stages:\n  t:\n    matrix: {{a: {axis}, b: {axis}}}\n    do: {{cmd: x}}\n")
    with pytest.raises(ConfigError, match="over 10000") as err:
        load_pipeline(tmp_path)
    assert err.value.line == 3


def test_error_path_is_relative_when_under_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, S + "    deps: 3\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_pipeline(tmp_path)
    assert err.value.location() == "auditpipe.yaml:4"
