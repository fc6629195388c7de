"""First-hour frictions in config files (issue 16, items 1-3): each mistake a new
user makes in a policy or ``auditpipe.yaml`` is exit 2 with the line it is on and
what to write instead. Run through the real CLI in a real repository."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.conftest import Project, Result

Cli = Callable[..., Result]


def bad_input(result: Result) -> str:
    assert result.code == 2, (result.code, result.out, result.err)
    assert "Traceback" not in result.err
    return result.err


# -- 1. `require` under `rules:` says where it belongs ------------------------------------


def test_require_under_rules_is_told_it_is_a_top_level_key(project: Project, cli: Cli) -> None:
    project.gen(
        {
            "policies/p.yaml": "version: 1\nname: p\nrules:\n"
            "  - gates_passed\n  - require: {stages: [train]}\n"
        }
    )
    err = bad_input(cli("gate", "--policy", "policies/p.yaml", "src/train.py"))
    assert "policies/p.yaml:5: 'require' is not a rule: it is a top-level key" in err
    assert "require: {stages:" in err


def test_the_same_require_at_the_top_level_loads(project: Project, cli: Cli) -> None:
    project.gen(
        {
            "policies/p.yaml": "version: 1\nname: p\n"
            + "require: {stages: [train]}\nrules: [gates_passed]\n"
        }
    )
    result = cli("gate", "--policy", "policies/p.yaml", "src/train.py")
    assert result.code == 1, result.err  # denied (no run made it), not a config error
    assert "not a rule" not in result.err


# -- 2. suggestions count a transposition as one edit ------------------------------------


def test_transposed_stage_key_suggests_deps_not_desc(project: Project, cli: Cli) -> None:
    project.gen({"auditpipe.yaml": "stages:\n  a:\n    cmd: echo\n    dpes: [x]\n"})
    err = bad_input(cli("status"))
    assert "auditpipe.yaml:4: unknown key 'dpes' in stage 'a'" in err
    assert "did you mean 'deps'?" in err


def test_policy_typos_suggest_the_keys_valid_at_that_place(project: Project, cli: Cli) -> None:
    project.gen({"policies/p.yaml": "version: 1\nname: p\nrequier: {stages: [a]}\n"})
    err = bad_input(cli("gate", "--policy", "policies/p.yaml", "src/train.py"))
    assert "policies/p.yaml:3: unknown key 'requier'" in err
    assert "did you mean 'require'?" in err
    project.gen(
        {
            "policies/p.yaml": "version: 1\nname: p\nrules:\n"
            + "  - metric: {stage: a, nmae: b, min: 1}\n"
        }
    )
    err = bad_input(cli("gate", "--policy", "policies/p.yaml", "src/train.py"))
    assert "unknown key 'nmae' in rules.0.metric" in err
    assert "did you mean 'name'?" in err
    project.gen({"policies/p.yaml": "version: 1\nname: p\nrules:\n  - not_stael\n"})
    assert "did you mean 'not_stale'?" in bad_input(
        cli("gate", "--policy", "policies/p.yaml", "src/train.py")
    )


# -- 3. a missing colon is reported on its own line --------------------------------------


def test_missing_colon_is_reported_on_the_line_that_lacks_it(project: Project, cli: Cli) -> None:
    project.gen(
        {
            "auditpipe.yaml": "stages:\n  a:\n    cmd: echo\n    deps [x]\n    outs: [y]\n",
        }
    )
    err = bad_input(cli("status"))
    assert "auditpipe.yaml:4: invalid YAML" in err
    assert "noticed at line 5" in err
    assert "add the ':'" in err


def test_missing_colon_before_a_continued_line(project: Project, cli: Cli) -> None:
    project.gen({"auditpipe.yaml": "stages:\n  a:\n    cmd echo\n    deps: [x]\n"})
    err = bad_input(cli("status"))
    assert "auditpipe.yaml:3: invalid YAML" in err


def test_unclosed_quote_points_at_where_it_opened(project: Project, cli: Cli) -> None:
    project.gen({"auditpipe.yaml": 'stages:\n  a:\n    cmd: "echo\n    deps: [x]\n\n'})
    err = bad_input(cli("status"))
    assert "auditpipe.yaml:3: invalid YAML" in err


# -- 4. `init` writes a starter a user can go from ---------------------------------------


def test_init_writes_a_commented_example_that_runs_once_uncommented(
    bare_repo: Project, cli: Cli
) -> None:
    result = cli("init")
    assert result.code == 0, result.err
    assert "wrote policies/default.yaml" in result.out
    text = (bare_repo.root / "auditpipe.yaml").read_text()
    assert "validate:" in text and "suite init" in text
    status = cli("status")
    assert status.code == 0, status.err
    assert "no stages yet" in status.out
    uncommented = "\n".join(
        line.replace("# ", "", 1) if line.startswith(("# params:", "  # ")) else line
        for line in text.splitlines()
    )
    bare_repo.gen({"auditpipe.yaml": uncommented, "params.yaml": "prepare: {seed: 1}\n"})
    shown = cli("dag", "--format", "json")
    assert shown.code == 0, shown.err
    assert '"prepare"' in shown.out and '"train"' in shown.out


def test_readme_init_sample_lists_what_init_writes(bare_repo: Project, cli: Cli) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    sample = readme.split("$ auditpipe init\n", 1)[1].split("```", 1)[0]
    said = [
        line.split(" ", 1)[0] + " " + line.split(" ")[1] for line in cli("init").out.splitlines()
    ]
    for words in said:
        assert words in sample, (words, sample)
    assert "wrote policies/default.yaml" in sample
