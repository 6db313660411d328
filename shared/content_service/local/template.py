"""Derive the local stack's resources and functions from template.yaml.

template.yaml is the single source of truth: the local stack creates exactly the tables,
buckets, queues and notifications it declares, and wires each function to the event sources
its ``Events`` name. Names follow CloudFormation's pattern without the random suffix
(``<stack>-<logicalid>``) unless the template fixes a name itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from content_service.local.cfn_yaml import load_template
from content_service.local.intrinsics import Resolver, logical_id_of

DEFAULT_STACK_NAME = "content-service-local"
DEFAULT_REGION = "eu-west-1"
DEFAULT_ACCOUNT_ID = "123456789012"
TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
"""A global table is created locally as a table in this region; its replicas are the replicator's."""
"""moto's default account: S3 notifications and ARNs it produces use this id."""

_RATE_PATTERN = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DelaySeconds",
    "FifoQueue",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: ``create_args`` go straight to ``create_table``."""

    logical_id: str
    name: str
    create_args: dict[str, Any]
    ttl_attribute: str | None
    stream_view_type: str | None


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue with its attributes as ``create_queue`` wants them (all strings)."""

    logical_id: str
    name: str
    arn: str
    attributes: dict[str, str]
    dead_letter_logical_id: str | None = None
    max_receive_count: int | None = None


@dataclass(frozen=True)
class BucketSpec:
    """An S3 bucket and the configuration calls that reproduce its template properties."""

    logical_id: str
    name: str
    notification: dict[str, Any] | None = None
    cors: dict[str, Any] | None = None
    encryption: dict[str, Any] | None = None
    public_access_block: dict[str, Any] | None = None
    versioning: str | None = None


@dataclass(frozen=True)
class SqsEventSource:
    """An SQS event source mapping (``Type: SQS``)."""

    name: str
    queue_logical_id: str
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_concurrency: int = 1
    """``ScalingConfig.MaximumConcurrency``: how many batches Lambda may run at once (1 if unset
    here, which keeps queues without it as they were; Lambda itself would scale them out)."""


@dataclass(frozen=True)
class StreamEventSource:
    """A DynamoDB stream event source mapping (``Type: DynamoDB``)."""

    name: str
    table_logical_id: str
    batch_size: int = 100
    starting_position: str = "LATEST"
    report_batch_item_failures: bool = False
    maximum_retry_attempts: int = -1
    bisect_batch_on_function_error: bool = False
    on_failure_queue_logical_id: str | None = None
    """``DestinationConfig.OnFailure`` as an SQS queue: where batches that used up every retry go."""


@dataclass(frozen=True)
class ScheduleEventSource:
    """An EventBridge schedule (``Type: Schedule`` with ``rate(...)``)."""

    name: str
    rate_seconds: int
    input: Any = None


@dataclass(frozen=True)
class ApiEventSource:
    """A REST API route (``Type: Api``); ``authorized`` is False for ``Authorizer: NONE``."""

    name: str
    path: str
    method: str
    authorized: bool = True


EventSource = SqsEventSource | StreamEventSource | ScheduleEventSource | ApiEventSource


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function: where its handler lives, its settings and its event sources."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    memory_mb: int
    raw_environment: dict[str, Any]
    events: tuple[EventSource, ...] = ()

    @property
    def handler_file(self) -> Path:
        """The Python file that holds the handler (``app.handler`` → ``<code_dir>/app.py``)."""
        module, _, _ = self.handler.rpartition(".")
        return self.code_dir / (module.replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        """The handler's attribute name inside its module."""
        return self.handler.rpartition(".")[2]


@dataclass
class LocalTemplate:
    """The local view of template.yaml: resources to create and functions to run."""

    path: Path
    stack_name: str
    region: str
    account_id: str
    resolver: Resolver
    tables: dict[str, TableSpec] = field(default_factory=dict)
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    buckets: dict[str, BucketSpec] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    api_stage: str = "prod"
    user_pool_client_id: str = "local-client"
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every resource as template.yaml declares it, for the modules that derive more kinds lazily."""

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """The declared resources of one CloudFormation type, by logical id, in template order."""
        return {name: r for name, r in self.resources.items() if r.get("Type") == kind}

    def add_function(self, spec: FunctionSpec) -> None:
        """Add a function the template does not declare (tests map throwaway handlers this way)."""
        _seed_names(self, spec.logical_id, {"Type": "AWS::Serverless::Function"}, "")
        self.functions[spec.logical_id] = spec

    def environment_for(self, logical_id: str) -> dict[str, str]:
        """Resolve a function's environment variables (Globals merged) to local values."""
        resolved = self.resolver.resolve(self.functions[logical_id].raw_environment)
        return {key: str(value) for key, value in resolved.items()}

    def queues_in_creation_order(self) -> list[QueueSpec]:
        """Dead-letter queues first: moto refuses a redrive policy to a queue that does not exist."""
        return sorted(self.queues.values(), key=lambda q: q.dead_letter_logical_id is not None)


def parse_rate(expression: str) -> int:
    """Turn ``rate(5 minutes)`` into seconds; cron expressions are not supported locally."""
    match = _RATE_PATTERN.fullmatch(expression.strip())
    if not match:
        raise ValueError(f"only rate(...) schedules run locally, not {expression!r}")
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    return amount * _RATE_UNITS[unit]


def load_local_template(
    path: Path,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    endpoint_url: str = "http://127.0.0.1:5000",
    parameter_overrides: dict[str, str] | None = None,
) -> LocalTemplate:
    """Read ``path`` and derive every local resource and function from it."""
    document = load_template(path)
    resolver = Resolver(conditions=document.get("Conditions", {}))
    _seed_pseudo_parameters(resolver, stack_name, region, account_id)
    for name, parameter in document.get("Parameters", {}).items():
        if "Default" in parameter:
            resolver.refs[name] = parameter["Default"]
    resolver.refs.update(parameter_overrides or {})
    # The stack these parameters make, as CloudFormation deploys it: resources whose Condition is
    # false do not exist, and each Fn::If has taken its branch (a region's role decides both).
    resources: dict[str, dict[str, Any]] = {
        logical_id: resolver.choose({k: v for k, v in resource.items() if k != "Condition"})
        for logical_id, resource in document["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }
    globals_section = resolver.choose(document.get("Globals", {}))

    local = LocalTemplate(
        path=path,
        stack_name=stack_name,
        region=region,
        account_id=account_id,
        resolver=resolver,
        resources=resources,
    )
    # Names first, so that properties referring to other resources resolve in any order.
    for logical_id, resource in resources.items():
        _seed_names(local, logical_id, resource, endpoint_url)
    for logical_id, resource in resources.items():
        _derive_resource(local, logical_id, resource)
    globals_function = globals_section.get("Function", {})
    for logical_id, resource in resources.items():
        if resource.get("Type") == "AWS::Serverless::Function":
            local.functions[logical_id] = _function(local, logical_id, resource, globals_function)
    return local


def _seed_pseudo_parameters(resolver: Resolver, stack_name: str, region: str, account_id: str) -> None:
    resolver.refs.update(
        {
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        }
    )


def _default_name(local: LocalTemplate, logical_id: str) -> str:
    return f"{local.stack_name}-{logical_id}".lower()


def _seed_names(local: LocalTemplate, logical_id: str, resource: dict[str, Any], endpoint_url: str) -> None:
    kind = resource.get("Type", "")
    props = resource.get("Properties", {})
    refs, attrs = local.resolver.refs, local.resolver.attributes
    region, account = local.region, local.account_id
    if kind in TABLE_TYPES:
        name = local.resolver.resolve(props.get("TableName")) or _default_name(local, logical_id)
        refs[logical_id] = name
        attrs[(logical_id, "Arn")] = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
    elif kind == "AWS::SQS::Queue":
        name = local.resolver.resolve(props.get("QueueName")) or _default_name(local, logical_id)
        if props.get("FifoQueue") and not name.endswith(".fifo"):
            name += ".fifo"
        refs[logical_id] = f"{endpoint_url}/{account}/{name}"
        attrs[(logical_id, "Arn")] = f"arn:aws:sqs:{region}:{account}:{name}"
        attrs[(logical_id, "QueueName")] = name
        attrs[(logical_id, "QueueUrl")] = refs[logical_id]
    elif kind == "AWS::S3::Bucket":
        name = local.resolver.resolve(props.get("BucketName")) or _default_name(local, logical_id)
        refs[logical_id] = name
        attrs[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        attrs[(logical_id, "DomainName")] = f"{name}.s3.amazonaws.com"
    elif kind == "AWS::Cognito::UserPool":
        refs[logical_id] = f"{region}_local"
        attrs[(logical_id, "Arn")] = f"arn:aws:cognito-idp:{region}:{account}:userpool/{region}_local"
    elif kind == "AWS::Cognito::UserPoolClient":
        # Cognito makes client ids up; locally the people's client is user_pool_client_id and a
        # service client's id is its service name (the part of "<service>@<tenant>" before the @).
        name = local.resolver.resolve(props.get("ClientName"))
        refs[logical_id] = str(name).partition("@")[0] if name else local.user_pool_client_id
    elif kind == "AWS::Serverless::Function":
        name = _default_name(local, logical_id)
        refs[logical_id] = name
        attrs[(logical_id, "Arn")] = f"arn:aws:lambda:{region}:{account}:function:{name}"
    elif kind == "AWS::Events::EventBus":
        name = local.resolver.resolve(props.get("Name")) or _default_name(local, logical_id)
        refs[logical_id] = name
        attrs[(logical_id, "Arn")] = f"arn:aws:events:{region}:{account}:event-bus/{name}"
        attrs[(logical_id, "Name")] = name
    elif kind == "AWS::IAM::Role":
        # Locally nobody assumes roles; the ARN is only named (by a bucket's replication, say).
        refs[logical_id] = _default_name(local, logical_id)
        attrs[(logical_id, "Arn")] = f"arn:aws:iam::{account}:role/{refs[logical_id]}"
    elif kind == "AWS::Serverless::LayerVersion":
        refs[logical_id] = f"arn:aws:lambda:{region}:{account}:layer:{logical_id}:1"
    else:
        refs[logical_id] = _default_name(local, logical_id)


def _derive_resource(local: LocalTemplate, logical_id: str, resource: dict[str, Any]) -> None:
    kind = resource.get("Type", "")
    if kind in TABLE_TYPES:
        local.tables[logical_id] = _table(local, logical_id, resource.get("Properties", {}))
    elif kind == "AWS::SQS::Queue":
        local.queues[logical_id] = _queue(local, logical_id, resource.get("Properties", {}))
    elif kind == "AWS::S3::Bucket":
        local.buckets[logical_id] = _bucket(local, logical_id, resource.get("Properties", {}))
    elif kind == "AWS::Serverless::Api":
        local.api_stage = str(local.resolver.resolve(resource.get("Properties", {}).get("StageName", "prod")))


def _table(local: LocalTemplate, logical_id: str, raw: dict[str, Any]) -> TableSpec:
    props = local.resolver.resolve(raw)
    name = local.resolver.refs[logical_id]
    args: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if args["BillingMode"] == "PROVISIONED":
        args["ProvisionedThroughput"] = props.get(
            "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
        )
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            args[key] = props[key]
    stream_view_type = props.get("StreamSpecification", {}).get("StreamViewType")
    if stream_view_type:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream_view_type}
    ttl = props.get("TimeToLiveSpecification", {})
    ttl_attribute = ttl.get("AttributeName") if ttl.get("Enabled") else None
    return TableSpec(logical_id, name, args, ttl_attribute, stream_view_type)


def _queue(local: LocalTemplate, logical_id: str, raw: dict[str, Any]) -> QueueSpec:
    props = local.resolver.resolve(raw)
    attributes = {key: _attribute_string(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    dead_letter_logical_id = None
    max_receive_count = None
    redrive = raw.get("RedrivePolicy")
    if redrive:
        dead_letter_logical_id = logical_id_of(redrive.get("deadLetterTargetArn"))
        max_receive_count = int(props["RedrivePolicy"]["maxReceiveCount"])
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": props["RedrivePolicy"]["deadLetterTargetArn"],
                "maxReceiveCount": max_receive_count,
            }
        )
    name = local.resolver.attributes[(logical_id, "QueueName")]
    arn = local.resolver.attributes[(logical_id, "Arn")]
    return QueueSpec(logical_id, name, arn, attributes, dead_letter_logical_id, max_receive_count)


def _attribute_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bucket(local: LocalTemplate, logical_id: str, raw: dict[str, Any]) -> BucketSpec:
    props = local.resolver.resolve(raw)
    encryption = None
    if "BucketEncryption" in props:
        rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        encryption = {
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in rules
            ]
        }
    cors = None
    if "CorsConfiguration" in props:
        cors = {"CORSRules": [_cors_rule(rule) for rule in props["CorsConfiguration"]["CorsRules"]]}
    return BucketSpec(
        logical_id=logical_id,
        name=local.resolver.refs[logical_id],
        notification=_notification(props.get("NotificationConfiguration")),
        cors=cors,
        encryption=encryption,
        public_access_block=props.get("PublicAccessBlockConfiguration"),
        versioning=props.get("VersioningConfiguration", {}).get("Status"),
    )


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    # CloudFormation and the S3 API spell two of these keys differently.
    renamed = {"ExposedHeaders": "ExposeHeaders", "MaxAge": "MaxAgeSeconds", "Id": "ID"}
    return {renamed.get(key, key): value for key, value in rule.items()}


def _notification(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if not config or not config.get("QueueConfigurations"):
        return None
    queues = []
    for entry in config["QueueConfigurations"]:
        item: dict[str, Any] = {"QueueArn": entry["Queue"], "Events": [entry["Event"]]}
        rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules")
        if rules:
            item["Filter"] = {"Key": {"FilterRules": rules}}
        queues.append(item)
    return {"QueueConfigurations": queues}


def _function(
    local: LocalTemplate, logical_id: str, resource: dict[str, Any], globals_function: dict[str, Any]
) -> FunctionSpec:
    props = resource.get("Properties", {})
    environment = dict(globals_function.get("Environment", {}).get("Variables", {}))
    environment.update(props.get("Environment", {}).get("Variables", {}))
    code_uri = local.resolver.resolve(props.get("CodeUri", globals_function.get("CodeUri", ".")))
    events = tuple(
        source
        for name, event in props.get("Events", {}).items()
        if (source := _event_source(local, name, event)) is not None
    )
    return FunctionSpec(
        logical_id=logical_id,
        code_dir=(local.path.parent / str(code_uri)).resolve(),
        handler=str(props.get("Handler", globals_function.get("Handler", "app.handler"))),
        timeout=int(local.resolver.resolve(props.get("Timeout", globals_function.get("Timeout", 3)))),
        memory_mb=int(
            local.resolver.resolve(props.get("MemorySize", globals_function.get("MemorySize", 128)))
        ),
        raw_environment=environment,
        events=events,
    )


def _event_source(local: LocalTemplate, name: str, event: dict[str, Any]) -> EventSource | None:
    kind, raw = event.get("Type"), event.get("Properties", {})
    props = local.resolver.resolve(
        {k: v for k, v in raw.items() if k not in ("Queue", "Stream", "DestinationConfig")}
    )
    report = "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
    if kind == "SQS":
        queue = logical_id_of(raw["Queue"])
        if queue is None:
            raise ValueError(f"event {name}: the local stack needs the queue as !GetAtt <Queue>.Arn")
        concurrency = int(props.get("ScalingConfig", {}).get("MaximumConcurrency", 1))
        return SqsEventSource(name, queue, int(props.get("BatchSize", 10)), report, concurrency)
    if kind == "DynamoDB":
        table = logical_id_of(raw["Stream"])
        if table is None:
            raise ValueError(f"event {name}: the local stack needs the stream as !GetAtt <Table>.StreamArn")
        return StreamEventSource(
            name,
            table,
            int(props.get("BatchSize", 100)),
            str(props.get("StartingPosition", "LATEST")),
            report,
            int(props.get("MaximumRetryAttempts", -1)),
            bool(props.get("BisectBatchOnFunctionError", False)),
            logical_id_of(raw.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")),
        )
    if kind == "Schedule":
        return ScheduleEventSource(name, parse_rate(str(props["Schedule"])), props.get("Input"))
    if kind == "Api":
        authorizer = props.get("Auth", {}).get("Authorizer")
        return ApiEventSource(name, str(props["Path"]), str(props["Method"]).upper(), authorizer != "NONE")
    return None
