"""Shell completion for bash, zsh and fish, written from the argparse parser itself.

``tasksync completion SHELL`` prints a script; it completes commands, each command's options, the
values of options with choices (``--format``, ``--color``) and file names elsewhere. It is made
from the same parser the command line runs, so it cannot drift from it. (shtab would do this
too, but it has no fish support and would be a dependency for a hundred lines.)
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

PROG = "tasksync"


@dataclass(frozen=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] | None


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    positional_choices: tuple[str, ...] | None
    """The choices of its positional argument (``completion SHELL``); None: files."""


def _short(text: str | None) -> str:
    """Help text cut to its first clause, without characters the shells' syntax would read."""
    text = re.split(r" \(|; |: ", text or "")[0]
    return re.sub(r"[\[\]'\"`:$\\]", "", text).strip()


def _options(parser: argparse.ArgumentParser) -> tuple[Option, ...]:
    found = []
    for action in parser._actions:
        if not action.option_strings:
            continue
        choices = tuple(str(c) for c in action.choices) if action.choices else None
        found.append(
            Option(tuple(action.option_strings), _short(action.help), action.nargs != 0, choices)
        )
    return tuple(found)


def describe(parser: argparse.ArgumentParser) -> tuple[tuple[Option, ...], list[Command]]:
    """The top-level options and each command, read from the parser."""
    commands = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help for a in action._choices_actions}
        for name, sub in action.choices.items():
            positional = [a for a in sub._actions if not a.option_strings and a.choices]
            choices = tuple(str(c) for c in positional[0].choices) if positional else None
            commands.append(Command(name, _short(helps.get(name)), _options(sub), choices))
    return _options(parser), commands


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    top, commands = describe(parser)
    return {"bash": _bash, "zsh": _zsh, "fish": _fish}[shell](top, commands)


def _flags(options: tuple[Option, ...]) -> str:
    return " ".join(flag for o in options for flag in o.flags)


def _bash(top: tuple[Option, ...], commands: list[Command]) -> str:
    names = " ".join(c.name for c in commands)
    values = []
    for command in [Command("", "", top, None), *commands]:
        for o in command.options:
            if not o.takes_value:
                continue
            action = f'-W "{" ".join(o.choices)}"' if o.choices else "-f"
            pattern = "|".join(f"{command.name}:{flag}" for flag in o.flags)
            values.append(f'    {pattern}) COMPREPLY=($(compgen {action} -- "$cur")); return ;;')
    per_command = []
    for c in commands:
        rest = f'-W "{" ".join(c.positional_choices)}"' if c.positional_choices else "-f"
        per_command.append(
            f'    {c.name}) if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "{_flags(c.options)}'
            f' --help" -- "$cur")); else COMPREPLY=($(compgen {rest} -- "$cur")); fi ;;'
        )
    return f"""# bash completion for {PROG}: eval "$({PROG} completion bash)"
_{PROG}() {{
  local cur prev cmd i
  cur="${{COMP_WORDS[COMP_CWORD]}}"
  prev="${{COMP_WORDS[COMP_CWORD-1]}}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "${{COMP_WORDS[i]}}" in
      {"|".join(c.name for c in commands)}) cmd="${{COMP_WORDS[i]}}"; break ;;
    esac
  done
  case "$cmd:$prev" in
{chr(10).join(values)}
  esac
  case "$cmd" in
    "") COMPREPLY=($(compgen -W "{names} {_flags(top)}" -- "$cur")) ;;
{chr(10).join(per_command)}
  esac
}}
complete -o filenames -o bashdefault -F _{PROG} {PROG}
"""


def _zsh_spec(o: Option) -> list[str]:
    value = ""
    if o.takes_value:
        value = f": :({' '.join(o.choices)})" if o.choices else ": :_files"
    return [f"'{flag}[{o.help}]{value}'" for flag in o.flags]


def _zsh(top: tuple[Option, ...], commands: list[Command]) -> str:
    described = "\n".join(f"    '{c.name}:{c.help}'" for c in commands)
    cases = []
    for c in commands:
        specs = [s for o in c.options for s in _zsh_spec(o)]
        rest = (
            f"'*: :({' '.join(c.positional_choices)})'" if c.positional_choices else "'*: :_files'"
        )
        joined = " \\\n            ".join([*specs, rest])
        cases.append(f"        {c.name})\n          _arguments {joined} ;;")
    top_specs = " \\\n    ".join(s for o in top for s in _zsh_spec(o))
    return f"""#compdef {PROG}
# zsh completion for {PROG}: save as _{PROG} in a folder of $fpath
_{PROG}() {{
  local curcontext="$curcontext" state line
  local -a commands
  commands=(
{described}
  )
  _arguments -C \\
    {top_specs} \\
    '1: :->command' \\
    '*:: :->args'
  case $state in
    command) _describe -t commands '{PROG} command' commands ;;
    args)
      case $line[1] in
{chr(10).join(cases)}
      esac ;;
  esac
}}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _{PROG} "$@"
else
  compdef _{PROG} {PROG}
fi
"""


def _fish_option(condition: str, o: Option) -> str:
    parts = [f"complete -c {PROG} -n '{condition}'"]
    for flag in o.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if o.choices:
        parts.append(f"-x -a '{' '.join(o.choices)}'")
    elif o.takes_value:
        parts.append("-r -F")
    parts.append(f"-d '{o.help}'")
    return " ".join(parts)


def _fish(top: tuple[Option, ...], commands: list[Command]) -> str:
    lines = [f"# fish completion for {PROG}: save in ~/.config/fish/completions/{PROG}.fish"]
    lines.append(f"complete -c {PROG} -f")
    lines += [_fish_option("__fish_use_subcommand", o) for o in top]
    for c in commands:
        lines.append(f"complete -c {PROG} -n __fish_use_subcommand -a {c.name} -d '{c.help}'")
        seen = f"__fish_seen_subcommand_from {c.name}"
        lines += [_fish_option(seen, o) for o in c.options]
        if c.positional_choices:
            lines.append(f"complete -c {PROG} -n '{seen}' -x -a '{' '.join(c.positional_choices)}'")
        else:
            lines.append(f"complete -c {PROG} -n '{seen}' -F")
    return "\n".join(lines) + "\n"
