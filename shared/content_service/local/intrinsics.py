"""Resolve CloudFormation intrinsic functions against local (moto) names and ARNs.

Only what a template's resource properties and environment variables need is supported:
``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::If`` (with the template's
Conditions), ``Fn::Select``, ``Fn::Split`` and ``Fn::Base64``. Anything else raises, so a
template change the local stack cannot honour fails loudly rather than silently.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()
"""Sentinel for ``AWS::NoValue``: the property it appears in is dropped."""

_SUB_PATTERN = re.compile(r"\$\{([^}]+)\}")


class UnsupportedIntrinsicError(ValueError):
    """The template uses an intrinsic function the local stack does not implement."""


@dataclass
class Resolver:
    """Resolves intrinsics with a table of physical ids (``Ref``) and attributes (``GetAtt``).

    ``refs`` maps logical ids and parameter names to values; ``attributes`` maps
    ``(logical id, attribute)`` to values. Both may be filled in after resources are created
    (a stream ARN, for example, only exists once its table does).
    """

    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """Return ``value`` with every intrinsic function replaced by its local value."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._intrinsic(key, argument)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def condition(self, name: str) -> bool:
        """Evaluate a named condition from the template's Conditions section."""
        return bool(self._evaluate_condition(self.conditions[name]))

    def choose(self, value: Any) -> Any:
        """``value`` with only each ``Fn::If`` replaced by its branch (and ``AWS::NoValue`` dropped).

        Everything else stays unresolved, so code that needs a ``!Ref``/``!GetAtt`` itself (an
        event source's stream, a distribution's origin bucket) sees the branch this stack takes.
        """
        if isinstance(value, list):
            return [item for item in (self.choose(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if list(value) == ["Fn::If"]:
            name, when_true, when_false = value["Fn::If"]
            return self.choose(when_true if self.condition(name) else when_false)
        if value == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        chosen = {k: self.choose(v) for k, v in value.items()}
        return {k: v for k, v in chosen.items() if v is not NO_VALUE}

    def _intrinsic(self, key: str, argument: Any) -> Any:
        handlers = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::If": self._if,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::Base64": lambda arg: base64.b64encode(str(self.resolve(arg)).encode()).decode(),
        }
        if key not in handlers:
            raise UnsupportedIntrinsicError(f"the local stack does not implement {key}")
        return handlers[key](argument)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name not in self.refs:
            raise KeyError(f"no local value for Ref {name!r}")
        return self.refs[name]

    def _get_att(self, argument: Any) -> Any:
        logical_id, attribute = (
            self.resolve(argument) if isinstance(argument, list) else argument.split(".", 1)
        )
        if (logical_id, attribute) not in self.attributes:
            raise KeyError(f"no local value for GetAtt {logical_id}.{attribute}")
        return self.attributes[(logical_id, attribute)]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                # "${!Literal}" is CloudFormation's escape for a literal "${Literal}".
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name not in self.refs:
                return str(self._get_att(name))
            return str(self._ref(name))

        return _SUB_PATTERN.sub(replace, text)

    def _join(self, argument: list[Any]) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self.resolve(items))

    def _if(self, argument: list[Any]) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def _select(self, argument: list[Any]) -> Any:
        index, items = argument
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, argument: list[Any]) -> list[str]:
        delimiter, text = argument
        return str(self.resolve(text)).split(delimiter)

    def _evaluate_condition(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, argument),) = expression.items()
            if key == "Condition":
                return self.condition(argument)
            if key == "Fn::Equals":
                left, right = (self._evaluate_condition(a) for a in argument)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._evaluate_condition(argument[0])
            if key == "Fn::And":
                return all(self._evaluate_condition(a) for a in argument)
            if key == "Fn::Or":
                return any(self._evaluate_condition(a) for a in argument)
        return self.resolve(expression)


def logical_id_of(value: Any) -> str | None:
    """Return the logical id an unresolved ``Ref``/``GetAtt`` points at, or None.

    Event sources name their queue or stream with ``!GetAtt Queue.Arn`` or ``!Ref``; the local
    runner needs the resource itself, not its ARN.
    """
    if isinstance(value, dict) and len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" and isinstance(argument, str):
            return argument
        if key == "Fn::GetAtt":
            return argument[0] if isinstance(argument, list) else str(argument).split(".", 1)[0]
    return None
