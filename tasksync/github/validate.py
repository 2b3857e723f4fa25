"""Validating task files offline, several at once, as the pre-commit hook and ``validate`` do.

An unset ``${VAR}`` is a note, not a problem: validation needs no secrets (a pull request from a
fork gets none), so a variable set only where ``plan`` runs does not fail it. Inputs are checked
against local input schema files (the file's ``actors:`` section, and ``input_schemas``) with
such a variable read as a present string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tasksync import config
from tasksync.errors import ConfigError, Problem, TasksyncError
from tasksync.github.annotations import problem_annotation
from tasksync.github.markdown import md_text


@dataclass(frozen=True)
class Validation:
    """What validating one file found: the task count when valid, else its problems."""

    file: str
    tasks: int | None
    problems: tuple[Problem, ...]
    notes: tuple[Problem, ...] = ()
    error: str | None = None
    """The error as the loader worded it, when the file could not be read at all."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        """The problems in one paragraph, as ``plan`` would report them."""
        return self.error or str(ConfigError(list(self.problems)))


def validate_file(
    path: str,
    environ: Mapping[str, str],
    *,
    input_schemas: Mapping[str, str] | None = None,
    require_env: bool = False,
) -> Validation:
    """Load ``path``; an unset ``${VAR}`` is a note unless ``require_env`` (as plan reads it).
    ``input_schemas``: Actor -> input schema file, beside the file's ``actors:`` section."""
    try:
        cfg = config.load(path, environ=environ, require_env=require_env)
    except ConfigError as exc:
        return Validation(path, None, tuple(exc.problems))
    except TasksyncError as exc:  # unreadable, too large, not a file
        return Validation(path, None, (Problem(path, None, None, "", str(exc)),), error=str(exc))
    problems = _input_problems(path, environ, input_schemas) if cfg.actors or input_schemas else ()
    return Validation(path, len(cfg.tasks), problems, cfg.notes)


def _input_problems(
    path: str, environ: Mapping[str, str], input_schemas: Mapping[str, str] | None
) -> tuple[Problem, ...]:
    from tasksync.inputcheck import check_offline  # only when there is a schema to read

    try:
        return tuple(check_offline(path, environ, input_schemas))
    except ConfigError:
        return ()  # the file reads only with its variables set: their notes say so
    except TasksyncError as exc:  # a schema file that cannot be read or used
        return (Problem(path, None, None, "", str(exc)),)


def validate_files(
    paths: Sequence[str],
    environ: Mapping[str, str],
    *,
    input_schemas: Mapping[str, str] | None = None,
    require_env: bool = False,
) -> list[Validation]:
    return [
        validate_file(p, environ, input_schemas=input_schemas, require_env=require_env)
        for p in paths
    ]


def validation_lines(results: Sequence[Validation], *, github: bool) -> list[str]:
    """The lines ``validate`` prints: annotations under GitHub, ``file:line:col: ...`` else."""
    out: list[str] = []
    for r in results:
        if github:
            out += [problem_annotation(p) for p in r.problems]
            out += [problem_annotation(p, level="notice") for p in r.notes]
        else:
            out += [f"{p} (note: validate needs no secrets)" for p in r.notes]
            out += [str(p) for p in r.problems]
        if r.ok:
            count = r.tasks or 0
            line = f"{r.file}: valid, {count} task{'s' if count != 1 else ''}"
            if r.notes:
                n = len(r.notes)
                line += f"; {n} variable{'s are' if n != 1 else ' is'} unset here"
            out.append(line)
        else:
            n = len(r.problems)
            out.append(f"{r.file}: {n} problem{'s' if n != 1 else ''}")
    return out


def validation_markdown(results: Sequence[Validation]) -> str:
    out = ["### tasksync validate", ""]
    for r in results:
        if r.ok:
            count = "" if r.tasks is None else f", {r.tasks} tasks"
            out.append(f"- :white_check_mark: `{r.file}`: valid{count}")
            continue
        out.append(f"- :x: `{r.file}`: {len(r.problems)} problems")
        out += [f"  - {md_text(str(p))}" for p in r.problems]
    return "\n".join(out) + "\n"
