"""Button actions: built from a command's declaration, dispatched through the registry.

A button's :class:`~bot.replies.Action` is a command name and its typed values.
:func:`button` builds a :class:`~bot.replies.Button` from one, together with the command as
typed (:func:`typed_line`, the inverse of :mod:`bot.commands`'s parser, derived from the
same declaration), which platforms carry as the button's encoded form. A press is run as
:func:`invocation` of the action when the platform hands the action back, or from its
typed form through the registry's parser otherwise; either way no renderer reads it.
"""

from __future__ import annotations

from bot.registry import REGISTRY, Flag, Invocation, Number, Spec, Text
from bot.replies import Action, Button, ButtonRole

__all__ = ["button", "invocation", "typed_line"]


def typed_line(spec: Spec, values: dict[str, object]) -> str:
    """``values`` of ``spec`` as a user would type them after ``/papers``.

    The order the parser reads: ``--flags`` first, then words in declaration order, then
    the free text. Values left out (None, False, empty) are not written.
    """
    flags: list[str] = []
    words: list[str] = []
    text: list[str] = []
    for option in spec.options:
        value = values.get(option.key)
        if value is None or value is False or value == "":
            continue
        if isinstance(option, Flag):
            flags.append(f"--{option.name}")
        elif isinstance(option, Number) and option.flag:
            flags.append(f"--{option.name} {value}")
        elif isinstance(option, Text):
            text.append(str(value))
        else:
            words.append(str(value))
    return " ".join([spec.name, *flags, *words, *text])


def button(
    label: str,
    role: ButtonRole,
    command: str,
    /,
    *,
    primary: bool = False,
    **values: object,
) -> Button:
    """A button running ``command`` with ``values`` (option keys) for its presser."""
    spec = REGISTRY[command]
    action = Action.of(command, **values)
    return Button(label, typed_line(spec, dict(values)), primary, role, action)


def invocation(action: Action) -> Invocation:
    """``action`` as the registry runs it (``KeyError`` if no such command is declared)."""
    return Invocation(REGISTRY[action.command], action.as_dict())
