"""Shell completion for `pg-tenants`, generated from its argument parser so it never drifts.

    eval "$(pg-tenants completion bash)"                                  # in ~/.bashrc
    eval "$(pg-tenants completion zsh)"                                   # in ~/.zshrc
    pg-tenants completion fish > ~/.config/fish/completions/pg-tenants.fish

zsh runs the bash function through its own bashcompinit, so both shells complete alike:
subcommands, each subcommand's options, the choices of --format/--color, and file names
where an option or argument takes a path.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")
PROG = "pg-tenants"


@dataclass(frozen=True)
class _Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    is_path: bool = False


@dataclass(frozen=True)
class _Command:
    name: str
    help: str
    options: tuple[_Option, ...]
    positional_choices: tuple[str, ...] = ()  # e.g. the shells of `completion`
    positional_paths: bool = False


def _option(action: argparse.Action) -> _Option:
    metavar = str(action.metavar or "")
    return _Option(tuple(action.option_strings), " ".join((action.help or "").split()), action.nargs != 0,
                   tuple(str(c) for c in action.choices or ()), action.type is Path or "FILE" in metavar)


def _describe(parser: argparse.ArgumentParser) -> tuple[tuple[_Option, ...], tuple[_Command, ...]]:
    """The top-level options and every subcommand, as the parser defines them."""
    top: list[_Option] = []
    commands: list[_Command] = []
    for action in parser._actions:  # argparse offers no public walk over its actions
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                options = tuple(_option(a) for a in sub._actions if a.option_strings)
                positionals = [a for a in sub._actions if not a.option_strings]
                choices = tuple(str(c) for a in positionals for c in (a.choices or ()))
                paths = any(a.type is Path for a in positionals)
                commands.append(_Command(name, helps.get(name, ""), options, choices, paths))
        elif action.option_strings:
            top.append(_option(action))
    return tuple(top), tuple(commands)


def _words(options: tuple[_Option, ...]) -> str:
    return " ".join(flag for option in options for flag in option.flags)


def _bash_value_cases(options: tuple[_Option, ...]) -> list[str]:
    """`case "$prev"` arms: the choices of an option, file names for a path, nothing for free text."""
    lines = []
    for option in options:
        if not option.takes_value:
            continue
        pattern = "|".join(option.flags)
        if option.choices:
            lines.append(f'        {pattern}) COMPREPLY=($(compgen -W "{" ".join(option.choices)}" -- "$cur")); return ;;')
        elif option.is_path:
            lines.append(f'        {pattern}) COMPREPLY=($(compgen -f -- "$cur")); return ;;')
        else:
            lines.append(f"        {pattern}) COMPREPLY=(); return ;;")
    return lines


def bash_script(parser: argparse.ArgumentParser) -> str:
    top, commands = _describe(parser)
    names = " ".join(c.name for c in commands)
    lines = [
        f"# bash completion for {PROG}: eval \"$({PROG} completion bash)\"",
        "_pg_tenants() {",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" cmd="" i',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        f'        case "${{COMP_WORDS[i]}}" in {"|".join(c.name for c in commands)}) cmd="${{COMP_WORDS[i]}}"; break ;; esac',
        "    done",
        '    case "$cmd" in',
        f'    "") COMPREPLY=($(compgen -W "{names} {_words(top)}" -- "$cur")); return ;;',
    ]
    for command in commands:
        lines.append(f"    {command.name})")
        lines.append('        case "$prev" in')
        lines += ["    " + arm for arm in _bash_value_cases(command.options)]
        lines.append("        esac")
        if command.positional_choices:
            rest = f'COMPREPLY=($(compgen -W "{" ".join(command.positional_choices)}" -- "$cur"))'
        elif command.positional_paths:
            rest = 'COMPREPLY=($(compgen -f -- "$cur"))'
        else:
            rest = "COMPREPLY=()"
        lines.append(f'        if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "{_words(command.options)}" -- "$cur"));'
                     f" else {rest}; fi ;;")
    lines += ["    esac", "}", f"complete -o filenames -F _pg_tenants {PROG}", ""]
    return "\n".join(lines)


def zsh_script(parser: argparse.ArgumentParser) -> str:
    body = bash_script(parser).split("\n", 1)[1]
    return "\n".join([f"#compdef {PROG}", f"# zsh completion for {PROG}: eval \"$({PROG} completion zsh)\"",
                      "autoload -U +X compinit && compinit", "autoload -U +X bashcompinit && bashcompinit", body])


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(condition: str, option: _Option) -> str:
    parts = [f"complete -c {PROG} -n {_fish_quote(condition)}"]
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if option.choices:
        parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
    elif option.is_path:
        parts.append("-r -F")
    elif option.takes_value:
        parts.append("-x")
    if option.help:
        parts.append(f"-d {_fish_quote(option.help)}")
    return " ".join(parts)


def fish_script(parser: argparse.ArgumentParser) -> str:
    top, commands = _describe(parser)
    names = " ".join(c.name for c in commands)
    lines = [f"# fish completion for {PROG}: {PROG} completion fish > ~/.config/fish/completions/{PROG}.fish",
             f"complete -c {PROG} -f"]
    lines += [_fish_option(f"not __fish_seen_subcommand_from {names}", option) for option in top]
    for command in commands:
        lines.append(f"complete -c {PROG} -n {_fish_quote(f'not __fish_seen_subcommand_from {names}')} "
                     f"-a {command.name} -d {_fish_quote(command.help)}")
        seen = f"__fish_seen_subcommand_from {command.name}"
        lines += [_fish_option(seen, option) for option in command.options]
        if command.positional_choices:
            lines.append(f"complete -c {PROG} -n {_fish_quote(seen)} -a {_fish_quote(' '.join(command.positional_choices))}")
        elif command.positional_paths:
            lines.append(f"complete -c {PROG} -n {_fish_quote(seen)} -F")
    return "\n".join(lines) + "\n"


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    return {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[shell](parser)
