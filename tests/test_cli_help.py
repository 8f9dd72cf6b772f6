"""Every command of `podarchive`, and every option, explains itself in --help."""

import click
import pytest

from ingest.cli import cli


def commands(group: click.Group, path: str = "podarchive") -> list[tuple[str, click.Command]]:
    """(`podarchive NAME`, command) for every command, subcommands of subgroups included."""
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((f"{path} {name}", command))
        if isinstance(command, click.Group):
            found += commands(command, f"{path} {name}")
    return found


def missing_help(path: str, command: click.Command) -> list[str]:
    """What lacks help text: the command itself (no docstring or help=), or its options."""
    missing = [] if (command.help or "").strip() else [f"{path} (no docstring)"]
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip():
            missing.append(f"{path} {max(param.opts, key=len)}")
    return missing


COMMANDS = commands(cli)


def test_the_group_and_its_options_have_help():
    assert missing_help("podarchive", cli) == []


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[path for path, _ in COMMANDS])
def test_every_command_and_option_has_help(path, command):
    missing = missing_help(path, command)
    assert not missing, "no help text: " + ", ".join(missing)


def test_every_command_is_checked():
    names = {path.removeprefix("podarchive ") for path, _ in COMMANDS}
    assert {"fetch", "download", "transcribe", "tag", "build", "serve", "run", "demo"} <= names
    assert {"search", "shows", "episodes", "tag-override", "reindex"} <= names


def test_a_missing_help_text_is_named():
    @click.group()
    @click.option("--quiet", is_flag=True)
    def group(quiet):
        """A group."""

    @group.command()
    @click.option("--limit", "-n", type=int)
    @click.option("--port", type=int, help="Port to listen on.")
    def serve(limit, port):
        pass

    [(path, command)] = commands(group, "tool")
    assert missing_help(path, command) == ["tool serve (no docstring)", "tool serve --limit"]
    assert missing_help("tool", group) == ["tool --quiet"]
