"""The embedded local stack: moto, the template's resources, the runner, the gateway and the CDN edge.

Usage::

    with LocalStack() as stack:
        token = stack.mint_token("tenant-a", "user-1")
        requests.post(f"{stack.api_url}/v1/uploads", headers={"Authorization": f"Bearer {token}"}, ...)

Each CloudFront distribution of the template gets a local edge (:mod:`content_service.local.edge`)
serving its origin bucket; ``CDN_DOMAIN`` resolves to the edge's ``127.0.0.1:port`` and, because
the edge speaks plain HTTP, ``CDN_BASE_URL`` is set to ``http://127.0.0.1:port`` (on AWS it is
unset and signed URLs start with ``https://${CDN_DOMAIN}``).

Presigned upload URLs point at a local S3 front (:mod:`content_service.local.s3_front`) that
checks their signature, expiry and signed headers as S3 does before it stores the PUT in moto;
``UPLOAD_ENDPOINT_URL`` is set to it.

Handlers run in this process. The stack exports the moto endpoint, dummy credentials, the region
and every function's (resolved) environment into ``os.environ`` before it imports any handler,
and restores the previous values when it stops.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from content_service.auth.verifier import TokenRules, TokenVerifier
from content_service.domain.zones import Zones
from content_service.local.cold_start import clear_cached_state
from content_service.local.dev_issuer import DevIssuer
from content_service.local.distribution import distributions, set_edge_domain
from content_service.local.edge import LocalEdge, Origin
from content_service.local.faults import FaultSwitch
from content_service.local.gateway import LocalGateway, Route, routes_from_template
from content_service.local.keys import replicate_to_peer
from content_service.local.lambda_runtime import Handler, load_handler
from content_service.local.moto_server import DUMMY_CREDENTIALS, MotoServer
from content_service.local.replicator import (
    BucketReplication,
    LocalReplicator,
    TableReplicas,
    create_replica_table,
)
from content_service.local.resources import create_bucket_in, create_resources
from content_service.local.runner import EventSourceRunner, RunnerSettings
from content_service.local.s3_front import LocalS3Front
from content_service.local.state import RunningStack, ensure_home, remove_state, state_home, write_state
from content_service.local.template import (
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    FunctionSpec,
    LocalTemplate,
    load_local_template,
)

__all__ = ["Endpoints", "LocalStack", "RunningStack", "StackAlreadyRunningError", "find_template"]

logger = logging.getLogger(__name__)

#: Where the stack's functions append their figures (JSON lines), in the state directory.
LOCAL_METRICS_FILE = "metrics.jsonl"

#: The template's Lambda TOKEN authorizer, whose settings the local gateway verifies tokens with.
AUTHORIZER_FUNCTION = "AuthorizerFunction"

#: A local default that retries a failed SQS message after 2 s instead of the template's 90 min.
LOCAL_RUNNER_SETTINGS = RunnerSettings(failed_visibility_timeout=2)


class StackAlreadyRunningError(RuntimeError):
    """Another live process already runs a local stack with the same state directory."""


@dataclass(frozen=True)
class Endpoints:
    """Where the running stack answers, and the physical names of its resources."""

    api_url: str
    endpoint_url: str
    region: str
    buckets: dict[str, str] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    edges: dict[str, str] = field(default_factory=dict)
    """Distribution logical id → the local edge's base URL (``http://127.0.0.1:port``)."""
    keys: dict[str, str] = field(default_factory=dict)
    """KMS key logical id → moto's key id."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Secret logical id → its ARN."""

    @property
    def edge_url(self) -> str | None:
        """The first distribution's edge URL: where signed bundle URLs point locally."""
        return next(iter(self.edges.values()), None)

    @property
    def s3_endpoint(self) -> str:
        """S3 is served by the same moto endpoint as every other service."""
        return self.endpoint_url


def find_template(start: Path | None = None) -> Path:
    """Locate template.yaml: ``$CONTENT_SERVICE_TEMPLATE``, the working tree upwards, or the repo."""
    if os.environ.get("CONTENT_SERVICE_TEMPLATE"):
        return Path(os.environ["CONTENT_SERVICE_TEMPLATE"]).resolve()
    for directory in [(start or Path.cwd()).resolve(), *(start or Path.cwd()).resolve().parents]:
        if (directory / "template.yaml").is_file():
            return directory / "template.yaml"
    # An editable install keeps the package inside the repository: shared/content_service/local.
    beside_package = Path(__file__).resolve().parents[3] / "template.yaml"
    if beside_package.is_file():
        return beside_package
    raise FileNotFoundError("template.yaml not found; set CONTENT_SERVICE_TEMPLATE")


class LocalStack:
    """Start moto, create the template's resources, run the handlers behind their event sources.

    One stack per process at a time: moto's backends and ``os.environ`` are process-wide.
    """

    _active: LocalStack | None = None

    def __init__(
        self,
        template_path: Path | None = None,
        *,
        home: Path | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        region: str = DEFAULT_REGION,
        handlers: Mapping[str, Handler] | None = None,
        extra_functions: Iterable[FunctionSpec] = (),
        runner_settings: RunnerSettings | None = None,
        gateway_port: int = 0,
        write_state_file: bool = True,
        peer_region: str | None = None,
        replication_delay: float = 0.0,
        peer_api: bool = False,
        parameters: Mapping[str, str] | None = None,
        moto_endpoint: str | None = None,
    ) -> None:
        """Describe a stack; nothing starts before :meth:`start` (or ``with``).

        ``handlers`` replaces functions' handlers by logical id (tests plug throwaway handlers in);
        ``extra_functions`` adds functions the template does not declare (their handlers must be
        in ``handlers`` or in their ``handler_file``).

        ``peer_region`` runs this stack as a zone's primary with that peer (``PeerRegion``): the
        peer's bundles bucket and table replica are made in moto, the replicator copies to them
        (after ``replication_delay`` seconds) and the edge fails over to the peer's bucket. The
        peer's own functions do not run locally (docs/regions.md).

        ``peer_api`` (with ``peer_region``) also serves the peer's API on its own gateway
        (``peer_api_url``): the API function invoked with the peer's environment (its region,
        bucket, table replica, replica keys and secrets), one invocation at a time, and the
        enrolment names both APIs. The fault switch fails it with the peer region.

        ``parameters`` overrides the template's parameters as a deployment's
        ``--parameter-overrides`` would (e.g. ``MigrationTargets``, ``MigrationGraceSeconds``).

        ``moto_endpoint`` uses the moto server another process runs (``content-service local up``
        runs each further zone in a child process on the first zone's moto, see
        :mod:`content_service.local.zones`) instead of starting one; that process's moto holds the
        fault switch's S3 half, so both must share ``home``.
        """
        self.template_path = template_path or find_template()
        self.home = ensure_home(state_home(home))
        self.stack_name = stack_name
        self.region = region
        self._handler_overrides = dict(handlers or {})
        self._extra_functions = list(extra_functions)
        self._runner_settings = runner_settings or LOCAL_RUNNER_SETTINGS
        self._gateway_port = gateway_port
        self._write_state_file = write_state_file
        self.peer_region = peer_region
        self._replication_delay = replication_delay
        self.replicator: LocalReplicator | None = None
        self._peer_api = bool(peer_api and peer_region)
        self._parameters = dict(parameters or {})
        if self._peer_api:
            # Another region's invocation swaps os.environ: no other invocation may run meanwhile.
            self._runner_settings = dataclasses.replace(self._runner_settings, serialize_invocations=True)
        self.peer_gateway: LocalGateway | None = None
        self.peer_environment: dict[str, str] = {}
        # The fault switch lives in the state directory, so `content-service local fail-region`
        # (another process) reaches this stack; a new stack starts with every region healthy.
        self.faults = FaultSwitch(self.home)
        self._moto = MotoServer(region=region, faults=self.faults, attach_to=moto_endpoint)
        self.template: LocalTemplate | None = None
        self.issuer: DevIssuer | None = None
        self.token_rules: TokenRules | None = None
        self.runner: EventSourceRunner | None = None
        self.gateway: LocalGateway | None = None
        self.edges: dict[str, LocalEdge] = {}
        self.s3_front: LocalS3Front | None = None
        self.environment: dict[str, str] = {}

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> LocalStack:
        """Start everything; on any failure, stop what already started and re-raise."""
        if LocalStack._active is not None:
            # moto's state and os.environ are process-wide, so two stacks in one process would collide.
            raise StackAlreadyRunningError("this process already runs a local stack; stop it first")
        if self._write_state_file and (running := RunningStack.find(self.home)) is not None:
            raise StackAlreadyRunningError(
                f"a local stack is already running (pid {running.state['pid']}, API {running.api_url})"
            )
        started = time.monotonic()
        LocalStack._active = self
        self.faults.heal()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        logger.info("local stack ready in %.2fs", time.monotonic() - started)
        return self

    def _start(self) -> None:
        endpoint = self._moto.start()
        self._moto.apply_environment()
        template = load_local_template(
            self.template_path,
            stack_name=self.stack_name,
            region=self.region,
            endpoint_url=endpoint,
            parameter_overrides={
                **self._parameters,
                **({"PeerRegion": self.peer_region} if self.peer_region else {}),
            }
            or None,
        )
        for extra in self._extra_functions:
            template.add_function(extra)
        self.template = template
        create_resources(template)
        self._start_replication(template, endpoint)
        self._start_edges(template, endpoint)
        self.environment = self._function_environment(template)
        if self.edges:
            # The edge speaks plain HTTP, so the https://${CDN_DOMAIN} of AWS does not reach it.
            self.environment["CDN_BASE_URL"] = next(iter(self.edges.values())).base_url
        self._start_s3_front(endpoint)
        # moto signs a KMS DIGEST message wrongly, so tokens are signed RAW (up to 4096 bytes) locally.
        self.environment["SIGNING_DIGEST_LARGE_MESSAGES"] = "false"
        # What CloudWatch would get from the EMF lines, for `content-service local metrics`.
        self.environment["LOCAL_METRICS_FILE"] = str(self.home / LOCAL_METRICS_FILE)
        self._moto.apply_environment(self.environment)
        # The dev issuer plays Cognito (and its pre-token trigger) for the authorizer's own rules.
        self.token_rules = TokenRules.from_environment(template.environment_for(AUTHORIZER_FUNCTION))
        self.issuer = DevIssuer.load_or_create(
            self.home, audience=template.user_pool_client_id, issuer=self.token_rules.issuer
        )
        jwks = self.issuer.jwks()
        routes = routes_from_template(template)
        verifier = TokenVerifier(lambda: jwks, self.token_rules)
        # The gateway binds its port before any handler loads: the handlers' settings name it.
        self.gateway = LocalGateway(
            routes,
            verifier,
            self._invoke,
            stage=template.api_stage,
            port=self._gateway_port,
            unavailable=lambda: self.faults.is_failed(self.region),
        )
        # The enrolment reply names this API; the gateway speaks plain HTTP on its own port, so
        # https://{domainName}/{stage} of AWS does not reach it (as CDN_BASE_URL for the edge).
        self.environment["API_URL"] = self.gateway.base_url
        if self._peer_api:
            self._start_peer_api(template, endpoint, routes, verifier)
        self._moto.apply_environment(self.environment)
        # Like a fresh Lambda container: nothing cached under another stack's endpoint survives.
        clear_cached_state()
        handlers = self._load_handlers(template)
        self.runner = EventSourceRunner(template, handlers, self._runner_settings)
        self.gateway.start()
        if self.peer_gateway is not None:
            self.peer_gateway.start()
        self.runner.start()
        if self._write_state_file:
            write_state(self.home, self.state_document())

    def stop(self) -> None:
        """Stop the gateway, the runner and moto, remove the state file, restore the environment."""
        if self.replicator is not None:
            self.replicator.stop()
            self.replicator = None
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.peer_gateway is not None:
            self.peer_gateway.stop()
            self.peer_gateway = None
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        for edge in self.edges.values():
            edge.stop()
        self.edges = {}
        if self.s3_front is not None:
            self.s3_front.stop()
            self.s3_front = None
        if self._write_state_file:
            remove_state(self.home, os.getpid())
        self._moto.stop()
        clear_cached_state()
        if LocalStack._active is self:
            LocalStack._active = None

    # ----------------------------------------------------------- accessors
    @property
    def api_url(self) -> str:
        """The API base URL, ending with the stage like the ApiUrl output; routes start with /v1."""
        if self.gateway is None:
            raise RuntimeError("the local stack is not running")
        return self.gateway.base_url

    @property
    def endpoints(self) -> Endpoints:
        """The API URL, the moto endpoint and the physical resource names, by logical id."""
        template = self._running_template()
        return Endpoints(
            api_url=self.api_url,
            endpoint_url=self._moto.endpoint_url,
            region=self.region,
            buckets={logical: bucket.name for logical, bucket in template.buckets.items()},
            tables={logical: table.name for logical, table in template.tables.items()},
            queues={logical: template.resolver.refs[logical] for logical in template.queues},
            edges={logical: edge.base_url for logical, edge in self.edges.items()},
            keys={logical: template.resolver.refs[logical] for logical in template.of_type("AWS::KMS::Key")},
            secrets={
                logical: template.resolver.refs[logical]
                for logical in template.of_type("AWS::SecretsManager::Secret")
            },
        )

    def mint_token(self, tenant_id: str, user_id: str, ttl: int = 3600, roles: Iterable[str] = ()) -> str:
        """A person's ID token (learner, plus the groups ``roles``) that this stack accepts."""
        if self.issuer is None:
            raise RuntimeError("the local stack is not running")
        return self.issuer.mint_token(tenant_id, user_id, ttl, roles=roles)

    def mint_service_token(
        self, tenant_id: str, client_id: str, roles: Iterable[str], ttl: int = 3600
    ) -> str:
        """A service's client-credentials token; locally a service client's id is its name
        (``authoring``, ``catalog``: template.yaml's service clients)."""
        if self.issuer is None:
            raise RuntimeError("the local stack is not running")
        return self.issuer.mint_service_token(tenant_id, client_id, roles, ttl)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """One function's resolved environment variables, as Lambda would set them."""
        return self._running_template().environment_for(logical_id)

    # ------------------------------------------------------------- helpers
    def _invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        if self.runner is None:
            raise RuntimeError("the local stack is not running")
        return self.runner.invoke(logical_id, event)

    def _running_template(self) -> LocalTemplate:
        if self.template is None:
            raise RuntimeError("the local stack is not running")
        return self.template

    def _start_replication(self, template: LocalTemplate, endpoint: str) -> None:
        """Make the peer's bucket and table replica and replicate to them, as S3 and DynamoDB would."""
        if not self.peer_region:
            return
        peer = self.peer_region
        # The template's Rules, which only CloudFormation evaluates: the peer stays in the zone.
        zones = Zones.parse(str(template.resolver.refs["ResidencyZones"]))
        zone = str(template.resolver.refs["ResidencyZone"])
        regions = next((z.regions for z in zones.zones if z.name == zone), ())
        if self.region not in regions or peer not in regions or peer == self.region:
            raise ValueError(
                f"peer region {peer!r} with {self.region!r} is not a pair of zone {zone!r} {regions}"
            )
        peer_s3 = boto3.client("s3", region_name=peer)
        buckets = []
        for spec in distributions(template):
            for bucket, region in spec.failover:
                create_bucket_in(peer_s3, bucket, region)
                peer_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
                source = template.buckets[spec.bucket_logical_id].name
                buckets.append(BucketReplication(source, self.region, bucket, region))
        tables = []
        for logical_id, resource in template.resources.items():
            if resource.get("Type") == "AWS::DynamoDB::GlobalTable":
                name = template.tables[logical_id].name
                create_replica_table(endpoint, name, self.region, peer)
                tables.append(TableReplicas(name, (self.region, peer)))
        self.replicator = LocalReplicator(endpoint, buckets, tables, delay=self._replication_delay).start()

    def _start_peer_api(
        self, template: LocalTemplate, endpoint: str, routes: list[Route], verifier: TokenVerifier
    ) -> None:
        """The peer region's API: its gateway, and the API function's environment in that region."""
        assert self.peer_region is not None and self.gateway is not None
        peer = self.peer_region
        secret_replicas = replicate_to_peer(template, self.region, peer)
        # Each region's API keeps its own idempotency table (a regional table, not a replica).
        create_replica_table(endpoint, self.environment["IDEMPOTENCY_TABLE_NAME"], self.region, peer)
        self.peer_gateway = LocalGateway(
            routes,
            verifier,
            self._invoke_peer,
            stage=template.api_stage,
            unavailable=lambda: self.faults.is_failed(peer),
        )
        # The enrolment names this region's API first, then the peer's (and the peer's the other way).
        self.environment["PEER_API_URL"] = self.peer_gateway.base_url
        peer_buckets = [bucket for spec in distributions(template) for bucket, _ in spec.failover]
        environment = {
            **self.environment,
            "AWS_REGION": peer,
            "AWS_DEFAULT_REGION": peer,
            "API_URL": self.peer_gateway.base_url,
            "PEER_API_URL": self.gateway.base_url,
            **({"BUNDLES_BUCKET": peer_buckets[0]} if peer_buckets else {}),
        }
        self.peer_environment = {
            name: secret_replicas.get(value, value) for name, value in environment.items()
        }

    def _invoke_peer(self, logical_id: str, event: dict[str, Any]) -> Any:
        if self.runner is None or self.peer_region is None:
            raise RuntimeError("the local stack is not running")
        return self.runner.invoke_in_region(logical_id, event, self.peer_region, self.peer_environment)

    @property
    def peer_api_url(self) -> str:
        """The peer region's API base URL (``peer_api=True`` only)."""
        if self.peer_gateway is None:
            raise RuntimeError("this local stack serves no peer API")
        return self.peer_gateway.base_url

    def _start_edges(self, template: LocalTemplate, endpoint: str) -> None:
        for spec in distributions(template):
            edge = LocalEdge(
                template.buckets[spec.bucket_logical_id].name,
                spec.trusted_keys,
                endpoint_url=endpoint,
                region=self.region,
                response_headers=spec.response_headers,
                failover=[Origin(bucket, region) for bucket, region in spec.failover],
                **({"failover_statuses": spec.failover_statuses} if spec.failover_statuses else {}),
            ).start()
            self.edges[spec.logical_id] = edge
            set_edge_domain(template, spec.logical_id, edge.domain)

    def _start_s3_front(self, endpoint: str) -> None:
        # moto checks no presigned URL, so the API's upload URLs point at a front that does.
        uploads_bucket = self.environment.get("UPLOADS_BUCKET")
        if not uploads_bucket:
            return
        self.s3_front = LocalS3Front(
            [uploads_bucket],
            {DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]: DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]},
            endpoint_url=endpoint,
            region=self.region,
        ).start()
        self.environment["UPLOAD_ENDPOINT_URL"] = self.s3_front.base_url

    def _function_environment(self, template: LocalTemplate) -> dict[str, str]:
        # Handlers share this process's environment, so functions must agree on shared names.
        merged: dict[str, str] = {}
        for logical_id in template.functions:
            for key, value in template.environment_for(logical_id).items():
                if merged.get(key, value) != value:
                    logger.warning(
                        "%s sets %s=%r, another function %r; the first wins",
                        logical_id,
                        key,
                        value,
                        merged[key],
                    )
                merged.setdefault(key, value)
        return merged

    def _load_handlers(self, template: LocalTemplate) -> dict[str, Handler]:
        handlers: dict[str, Handler] = {}
        for logical_id, spec in template.functions.items():
            if logical_id in self._handler_overrides:
                handlers[logical_id] = self._handler_overrides[logical_id]
                continue
            try:
                handlers[logical_id] = load_handler(
                    spec.handler_file, spec.handler_name, f"content_service_local_fn_{logical_id}"
                )
            except Exception:
                logger.exception("cannot load the handler of %s; it will not run", logical_id)
        return handlers

    def state_document(self) -> dict[str, Any]:
        """What the state file says of this running stack (``pid`` is this process)."""
        endpoints = self.endpoints
        assert self.issuer is not None
        return {
            "pid": os.getpid(),
            "started_at": time.time(),
            "stack_name": self.stack_name,
            "template": str(self.template_path),
            "region": self.region,
            "peer_region": self.peer_region,
            "api_url": endpoints.api_url,
            "peer_api_url": self.peer_gateway.base_url if self.peer_gateway is not None else None,
            "endpoint_url": endpoints.endpoint_url,
            "buckets": endpoints.buckets,
            "tables": endpoints.tables,
            "queues": endpoints.queues,
            "edges": endpoints.edges,
            "edge_url": endpoints.edge_url,
            "keys": endpoints.keys,
            "secrets": endpoints.secrets,
            "issuer": {"issuer": self.issuer.issuer, "audience": self.issuer.audience},
            "service_clients": sorted(self.token_rules.service_client_ids if self.token_rules else ()),
            "environment": {**self._moto.environment(), **self.environment},
        }
