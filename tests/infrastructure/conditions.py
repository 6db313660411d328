"""Evaluate a template's Conditions, Rules and ``Fn::If`` for given parameters, as CloudFormation would.

The template serves a single-region primary (the defaults), a primary with a peer, and a
secondary; tests look at each of those stacks through :func:`for_parameters`, which drops the
resources and outputs whose condition is false and picks the branch of every ``Fn::If``. Only
the condition functions the template uses are implemented; anything else raises.
"""

from __future__ import annotations

import copy
from typing import Any

NO_VALUE = object()


class Evaluator:
    """Conditions and rules of one template under one set of parameter values (defaults filled in)."""

    def __init__(
        self, template: dict[str, Any], parameters: dict[str, str], region: str = "eu-west-1"
    ) -> None:
        self.template = template
        self.values = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
        self.values.update(parameters)
        self.values["AWS::Region"] = region
        self._conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        """The value of a named condition."""
        if name not in self._conditions:
            self._conditions[name] = bool(self.evaluate(self.template["Conditions"][name]))
        return self._conditions[name]

    def evaluate(self, expression: Any) -> Any:
        """A condition or rule expression's value (booleans, strings, lists)."""
        if isinstance(expression, list):
            return [self.evaluate(item) for item in expression]
        if not isinstance(expression, dict):
            return expression
        ((function, argument),) = expression.items()
        if function == "Ref":
            return self.values[argument]
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::Equals":
            left, right = self.evaluate(argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not self.evaluate(argument[0])
        if function == "Fn::And":
            return all(self.evaluate(item) for item in argument)
        if function == "Fn::Or":
            return any(self.evaluate(item) for item in argument)
        if function == "Fn::Contains":
            values, value = self.evaluate(argument)
            return value in values
        raise NotImplementedError(function)

    def broken_rules(self) -> list[str]:
        """The descriptions of every assertion that fails (CloudFormation refuses such a stack)."""
        broken = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.evaluate(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self.evaluate(assertion["Assert"]):
                    broken.append(assertion["AssertDescription"])
        return broken

    def pick(self, value: Any) -> Any:
        """``value`` with every ``Fn::If`` replaced by its branch and ``AWS::NoValue`` dropped."""
        if isinstance(value, list):
            return [item for item in (self.pick(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if list(value) == ["Fn::If"]:
            name, when_true, when_false = value["Fn::If"]
            return self.pick(when_true if self.condition(name) else when_false)
        if value == {"Ref": "AWS::NoValue"}:
            return NO_VALUE
        picked = {k: self.pick(v) for k, v in value.items()}
        return {k: v for k, v in picked.items() if v is not NO_VALUE}


def for_parameters(
    template: dict[str, Any], parameters: dict[str, str] | None = None, region: str = "eu-west-1"
) -> dict[str, Any]:
    """The template as deployed with ``parameters``: conditional resources and branches resolved."""
    evaluator = Evaluator(template, parameters or {}, region)
    chosen = copy.deepcopy(template)
    for section in ("Resources", "Outputs"):
        chosen[section] = {
            name: evaluator.pick({k: v for k, v in item.items() if k != "Condition"})
            for name, item in template.get(section, {}).items()
            if "Condition" not in item or evaluator.condition(item["Condition"])
        }
    if "Globals" in chosen:
        chosen["Globals"] = evaluator.pick(chosen["Globals"])
    return chosen


PRIMARY_WITH_PEER = {"PeerRegion": "eu-central-1", "PeerApiUrl": "https://api.eu-central-1.example"}
SECONDARY = {
    "RegionRole": "secondary",
    "PeerRegion": "eu-west-1",
    "PrimarySigningKeyId": "mrk-" + "1" * 32,
    "PrimaryContentKeyId": "mrk-" + "2" * 32,
    "ZoneDistributionId": "E123EXAMPLE",
    "ZoneDistributionDomain": "d123.cloudfront.net",
    "TableReplicaStreamLabel": "2026-12-02T16:00:00.000",
}
"""A secondary in eu-central-1 whose primary is eu-west-1 (deploy with region="eu-central-1")."""
