"""template.yaml: lint it before and after the SAM transform, and hold the properties that matter."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

from tests.infrastructure.conditions import for_parameters

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _NoManagedPolicies:
    """samtranslator only asks IAM for managed policies named without an ARN; we use none."""

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="module")
def sam_template() -> dict[str, Any]:
    template, errors = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not errors, errors
    return json.loads(json.dumps(template))


@pytest.fixture(scope="module")
def transformed(sam_template: dict[str, Any]) -> dict[str, Any]:
    # `sam package` replaces local CodeUri/ContentUri paths with S3 URIs before the transform runs.
    packaged = copy.deepcopy(sam_template)
    for logical_id, resource in packaged["Resources"].items():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{logical_id}.zip"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
        return transform(packaged, {}, _NoManagedPolicies())


@pytest.fixture(scope="module")
def default_stack(transformed: dict[str, Any]) -> dict[str, Any]:
    """The stack the default parameters make: a single-region primary (test_regions.py: the others)."""
    return for_parameters(transformed)


@pytest.fixture(scope="module")
def sam_default(sam_template: dict[str, Any]) -> dict[str, Any]:
    return for_parameters(sam_template)


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in roles, inline policies, bucket policies and queue policies."""
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        if "PolicyDocument" in props:
            documents.append(props["PolicyDocument"])
        for document in documents:
            statements = document.get("Statement", [])
            for statement in statements if isinstance(statements, list) else [statements]:
                yield name, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_s3_grants(template: dict[str, Any]) -> list[str]:
    """Statements that grant ``s3:*``-style actions, or S3 actions on every resource."""
    found = []
    for name, statement in _statements(template):
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        s3_actions = [a for a in actions if a.lower().startswith("s3:") or a == "*"]
        if any("*" in action for action in s3_actions):
            found.append(f"{name}: {s3_actions}")
        if s3_actions and "*" in _as_list(statement.get("Resource", [])):
            found.append(f"{name}: {s3_actions} on Resource *")
    return found


def test_the_sam_template_passes_cfn_lint() -> None:
    matches = lint(TEMPLATE.read_text(encoding="utf-8"), regions=["eu-west-1"])
    assert [str(m) for m in matches] == []


def test_the_transformed_template_passes_cfn_lint(transformed: dict[str, Any]) -> None:
    matches = lint(json.dumps(transformed), regions=["eu-west-1"])
    assert [str(m) for m in matches] == []


def test_cfn_lint_reports_errors_it_is_given() -> None:
    # Guards the two lint tests above against passing because lint silently checked nothing.
    broken = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}}}
    }
    assert lint(json.dumps(broken), regions=["eu-west-1"])


def test_the_aggregate_table_streams_new_and_old_images(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    table = transformed["Resources"]["Table"]["Properties"]
    assert transformed["Resources"]["Table"]["Type"] == "AWS::DynamoDB::GlobalTable"
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    (replica,) = table["Replicas"]
    assert replica["Region"] == {"Ref": "AWS::Region"}
    assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    # gsi1 lists a tenant's packages; gsi2 is the sparse index of builds in progress for the sweep.
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["gsi1", "gsi2"]
    # Keys only: a state change that keeps an item's index keys (a bundle revoked) writes no index.
    assert [i["Projection"] for i in table["GlobalSecondaryIndexes"]] == [{"ProjectionType": "KEYS_ONLY"}] * 2


def test_the_idempotency_table_expires_records(transformed: dict[str, Any]) -> None:
    props = transformed["Resources"]["IdempotencyTable"]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_the_build_queue_sends_poison_messages_to_the_dead_letter_queue(transformed: dict[str, Any]) -> None:
    redrive = transformed["Resources"]["BuildQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["BuildDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == 3


def test_the_build_queue_outlasts_six_build_timeouts(transformed: dict[str, Any]) -> None:
    function = transformed["Resources"]["BuildPackageFunction"]["Properties"]
    assert function["Timeout"] == 900
    assert function["EphemeralStorage"] == {"Size": 10240}
    visibility = transformed["Resources"]["BuildQueue"]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * function["Timeout"]


def test_the_build_function_reports_partial_batch_failures(transformed: dict[str, Any]) -> None:
    mappings = _resources(transformed, "AWS::Lambda::EventSourceMapping")
    (mapping,) = [
        m["Properties"]
        for m in mappings.values()
        if m["Properties"]["FunctionName"] == {"Ref": "BuildPackageFunction"}
    ]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["BuildQueue", "Arn"]}
    assert mapping["BatchSize"] == 5
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_uploads_notify_the_build_queue_once_its_policy_exists(transformed: dict[str, Any]) -> None:
    bucket = transformed["Resources"]["UploadsBucket"]
    queues = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert queues == [{"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["BuildQueue", "Arn"]}}]
    assert bucket["DependsOn"] == "BuildQueuePolicy"
    (statement,) = transformed["Resources"]["BuildQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    # The condition names the bucket by the same pattern as its BucketName, which avoids a cycle.
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"].endswith(
        bucket["Properties"]["BucketName"]["Fn::Sub"]
    )


def test_no_policy_grants_wildcard_s3_actions_or_resources(transformed: dict[str, Any]) -> None:
    assert list(_statements(transformed)), "the walker found no statements at all"
    assert wildcard_s3_grants(transformed) == []


def test_the_wildcard_check_catches_a_wildcard_grant(transformed: dict[str, Any]) -> None:
    leaky = copy.deepcopy(transformed)
    role = leaky["Resources"]["BuildPackageFunctionRole"]["Properties"]
    role["Policies"].append(
        {
            "PolicyName": "Leaky",
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]},
        }
    )
    # One finding for the wildcard action, one for the wildcard resource.
    assert len(wildcard_s3_grants(leaky)) == len(wildcard_s3_grants(transformed)) + 2


def test_every_bucket_blocks_public_access_and_is_encrypted(transformed: dict[str, Any]) -> None:
    buckets = _resources(transformed, "AWS::S3::Bucket")
    assert set(buckets) == {"UploadsBucket", "PackagesBucket", "BundlesBucket", "ExportsBucket"}
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, name
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), name


def test_every_bucket_refuses_plain_http(transformed: dict[str, Any]) -> None:
    policies = _resources(transformed, "AWS::S3::BucketPolicy")
    protected = {
        p["Properties"]["Bucket"]["Ref"]
        for p in policies.values()
        if any(
            s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    assert protected == {"UploadsBucket", "PackagesBucket", "BundlesBucket", "ExportsBucket"}


def test_every_api_route_needs_a_token_the_authorizer_function_verified(transformed: dict[str, Any]) -> None:
    body = transformed["Resources"]["ContentApi"]["Properties"]["Body"]
    (scheme,) = body["securityDefinitions"].values()
    assert scheme["x-amazon-apigateway-authtype"] == "custom"
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "token"
    assert "AuthorizerFunction" in json.dumps(authorizer["authorizerUri"])
    methods = {
        (path, verb): method for path, verbs in body["paths"].items() for verb, method in verbs.items()
    }
    assert methods, "the API declares no routes"
    # The JWKS is the one public route: devices fetch the verification keys before they hold a token.
    public = {key for key, method in methods.items() if method.get("security") != [{"TokenAuthorizer": []}]}
    assert public == {("/v1/.well-known/jwks.json", "get")}
    assert "/v1/{proxy+}" in body["paths"]


def test_the_unauthorized_response_is_a_problem_document(transformed: dict[str, Any]) -> None:
    body = transformed["Resources"]["ContentApi"]["Properties"]["Body"]
    response = body["x-amazon-apigateway-gateway-responses"]["UNAUTHORIZED"]
    assert (
        response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    )
    assert json.loads(response["responseTemplates"]["application/json"])["status"] == 401


def test_the_authorizer_trusts_exactly_the_pools_clients(transformed: dict[str, Any]) -> None:
    variables = transformed["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["USER_CLIENT_IDS"] == {"Ref": "UserPoolClient"}
    assert variables["SERVICE_CLIENT_IDS"] == {"Fn::Sub": "${AuthoringServiceClient},${CatalogServiceClient}"}
    assert variables["TOKEN_ISSUER"] == {"Fn::Sub": "https://cognito-idp.${AWS::Region}.amazonaws.com/${UserPool}"}


def test_each_service_client_has_only_its_own_scope_and_names_its_tenant(transformed: dict[str, Any]) -> None:
    resources = transformed["Resources"]
    for logical_id, scope in (("AuthoringServiceClient", "author"), ("CatalogServiceClient", "catalog")):
        client = resources[logical_id]["Properties"]
        assert client["AllowedOAuthFlows"] == ["client_credentials"]
        assert client["AllowedOAuthScopes"] == [f"content-service/{scope}"]
        assert client["ClientName"]["Fn::Sub"].endswith("@${ServiceTenantId}")
    trigger = resources["UserPool"]["Properties"]["LambdaConfig"]["PreTokenGenerationConfig"]
    assert trigger == {"LambdaArn": {"Fn::GetAtt": ["PreTokenFunction", "Arn"]}, "LambdaVersion": "V3_0"}
    groups = {r["Properties"]["GroupName"] for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert groups == {"author", "catalog", "admin"}


def test_users_cannot_write_their_own_tenant_claim(transformed: dict[str, Any]) -> None:
    client = transformed["Resources"]["UserPoolClient"]["Properties"]
    assert "custom:tenant_id" in client["ReadAttributes"]
    assert "custom:tenant_id" not in client["WriteAttributes"]


def test_functions_get_the_settings_contract_from_globals(sam_default: dict[str, Any]) -> None:
    sam_template = sam_default
    variables = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TABLE_NAME"] == {"Ref": "Table"}
    assert variables["IDEMPOTENCY_TABLE_NAME"] == {"Ref": "IdempotencyTable"}
    assert variables["UPLOADS_BUCKET"] == {"Ref": "UploadsBucket"}
    assert variables["PACKAGES_BUCKET"] == {"Ref": "PackagesBucket"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == "content-service"
    assert sam_template["Globals"]["Function"]["Runtime"] == "python3.12"


def test_every_function_runs_with_the_shared_and_dependency_layers(transformed: dict[str, Any]) -> None:
    layers = _resources(transformed, "AWS::Lambda::LayerVersion")
    for name, function in _resources(transformed, "AWS::Lambda::Function").items():
        refs = {layer["Ref"] for layer in function["Properties"]["Layers"]}
        assert refs == set(layers), name


def test_the_dependency_layer_ships_exactly_the_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = (ROOT / "layers" / "deps" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert sorted(requirements) == sorted(project["dependencies"])


def test_samconfig_deploys_without_prompts() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    deploy = config["default"]["deploy"]["parameters"]
    assert deploy["resolve_s3"] is True
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    stack_name = config["default"]["global"]["parameters"]["stack_name"]
    # The uploads bucket name embeds the stack name, and bucket names must be lowercase.
    assert stack_name == stack_name.lower()


# ------------------------------------------------------------------ delivery and keys


def _role_statements(transformed: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = transformed["Resources"][f"{function}Role"]["Properties"]
    return [s for p in role.get("Policies", []) for s in _as_list(p["PolicyDocument"]["Statement"])]


def _grants(statements: list[dict[str, Any]], prefix: str) -> dict[str, list[Any]]:
    """Action → the resources it is allowed on, for the actions starting with ``prefix``."""
    found: dict[str, list[Any]] = {}
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement["Action"]):
            if isinstance(action, str) and action.startswith(prefix):
                found.setdefault(action, []).extend(_as_list(statement["Resource"]))
    return found


def only_oac_may_read(transformed: dict[str, Any], bucket: str) -> list[str]:
    """Problems with the rule "the bucket policy lets only this stack's distribution read, via its OAC"."""
    problems = []
    policies = [
        p["Properties"]["PolicyDocument"]
        for p in _resources(transformed, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    allows = [s for doc in policies for s in doc["Statement"] if s["Effect"] == "Allow"]
    if len(allows) != 1:
        problems.append(f"{len(allows)} Allow statements, expected exactly one")
    for statement in allows:
        if statement["Principal"] != {"Service": "cloudfront.amazonaws.com"}:
            problems.append(f"principal {statement['Principal']}")
        if _as_list(statement["Action"]) != ["s3:GetObject"]:
            problems.append(f"actions {statement['Action']}")
        source = statement.get("Condition", {}).get("StringEquals", {}).get("AWS:SourceArn", {})
        if "${BundlesDistribution}" not in str(source.get("Fn::Sub", "")):
            problems.append(f"not bound to the distribution: {source}")
    return problems


def test_bundles_are_readable_only_by_the_distribution_through_its_oac(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    assert only_oac_may_read(transformed, "BundlesBucket") == []
    (origin,) = transformed["Resources"]["BundlesDistribution"]["Properties"]["DistributionConfig"]["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": ["BundlesBucket", "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["BundlesOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac = transformed["Resources"]["BundlesOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")


def test_the_oac_check_catches_a_public_read(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    leaky = copy.deepcopy(transformed)
    statements = leaky["Resources"]["BundlesBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    statements.append({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "x"})
    assert only_oac_may_read(leaky, "BundlesBucket")


def test_the_distribution_serves_only_signed_https_requests(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    config = transformed["Resources"]["BundlesDistribution"]["Properties"]["DistributionConfig"]
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["TrustedKeyGroups"] == [{"Ref": "CdnKeyGroup"}]
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert "CacheBehaviors" not in config, "another behavior could serve objects unsigned"
    group = transformed["Resources"]["CdnKeyGroup"]["Properties"]["KeyGroupConfig"]
    assert group["Items"] == [{"Ref": "CdnPublicKey"}]
    key = transformed["Resources"]["CdnPublicKey"]["Properties"]["PublicKeyConfig"]
    assert key["EncodedKey"] == {"Ref": "CdnPublicKeyPem"}


def test_bundles_carry_a_strict_content_security_policy(transformed: dict[str, Any]) -> None:
    behavior = transformed["Resources"]["BundlesDistribution"]["Properties"]["DistributionConfig"][
        "DefaultCacheBehavior"
    ]
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": "BundlesResponseHeadersPolicy"}
    policy = transformed["Resources"]["BundlesResponseHeadersPolicy"]["Properties"]
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["ContentSecurityPolicy"]["ContentSecurityPolicy"].startswith("default-src 'none'")
    assert headers["ContentTypeOptions"]["Override"] is True


def test_the_cdn_secret_names_the_key_pair_of_the_key_group(transformed: dict[str, Any]) -> None:
    secret = transformed["Resources"]["CdnSigningKeySecret"]["Properties"]["SecretString"]["Fn::Sub"]
    document = json.loads(secret.replace("${CdnPublicKey}", "K123"))
    assert set(document) == {"key_pair_id", "private_key_pem"}
    assert document["key_pair_id"] == "K123"


def test_kms_keys_have_the_specs_the_crypto_needs(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    keys = _resources(transformed, "AWS::KMS::Key")
    assert set(keys) == {"SigningKey", "ContentKey"}
    signing, content = keys["SigningKey"]["Properties"], keys["ContentKey"]["Properties"]
    assert (signing["KeySpec"], signing["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert (content["KeySpec"], content["KeyUsage"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    assert content["EnableKeyRotation"] is True
    aliases = {
        a["Properties"]["TargetKeyId"]["Ref"] for a in _resources(transformed, "AWS::KMS::Alias").values()
    }
    assert aliases == {"SigningKey", "ContentKey"}


def test_key_policies_let_the_account_administer_but_only_named_roles_use(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    usage = {"kms:Sign", "kms:GetPublicKey", "kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt", "kms:*"}
    for name in ("SigningKey", "ContentKey"):
        for statement in transformed["Resources"][name]["Properties"]["KeyPolicy"]["Statement"]:
            actions = set(_as_list(statement["Action"]))
            if actions & usage:
                pattern = statement["Condition"]["ArnLike"]["aws:PrincipalArn"]["Fn::Sub"]
                assert "FunctionRole-*" in pattern, (name, statement["Sid"])
    signers = [
        s["Condition"]["ArnLike"]["aws:PrincipalArn"]["Fn::Sub"]
        for s in transformed["Resources"]["SigningKey"]["Properties"]["KeyPolicy"]["Statement"]
        if "kms:Sign" in _as_list(s["Action"])
    ]
    assert signers == [
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-ApiFunctionRole-*"
    ]


def test_the_api_function_gets_exactly_the_delivery_grants_it_needs(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    statements = _role_statements(transformed, "ApiFunction")
    assert _grants(statements, "kms:") == {
        "kms:Sign": [{"Fn::GetAtt": ["SigningKey", "Arn"]}],
        "kms:GetPublicKey": [{"Fn::GetAtt": ["SigningKey", "Arn"]}],
        "kms:GenerateDataKey": [{"Fn::GetAtt": ["ContentKey", "Arn"]}],
        "kms:Decrypt": [{"Fn::GetAtt": ["ContentKey", "Arn"]}],
    }
    # The CDN signing key for download URLs; the cursor key that seals list cursors.
    assert _grants(statements, "secretsmanager:") == {
        "secretsmanager:GetSecretValue": [{"Ref": "CdnSigningKeySecret"}, {"Ref": "CursorKeySecret"}]
    }
    bundles = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BundlesBucket}/*"}
    s3 = _grants(statements, "s3:")
    assert bundles in s3["s3:PutObject"] and bundles in s3["s3:GetObject"]
    assert "s3:DeleteObject" not in s3


def test_the_build_function_may_only_wrap_content_keys_and_write_containers(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    statements = _role_statements(transformed, "BuildPackageFunction")
    assert _grants(statements, "kms:") == {"kms:GenerateDataKey": [{"Fn::GetAtt": ["ContentKey", "Arn"]}]}
    assert _grants(statements, "secretsmanager:") == {}
    bundles = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BundlesBucket}/*"}
    s3 = _grants(statements, "s3:")
    assert bundles in s3["s3:PutObject"]
    assert bundles not in s3.get("s3:GetObject", [])


def test_no_function_may_use_keys_or_secrets_it_was_not_given(default_stack: dict[str, Any]) -> None:
    transformed = default_stack
    for name in _resources(transformed, "AWS::Lambda::Function"):
        if name in ("ApiFunction", "BuildPackageFunction"):
            continue
        statements = _role_statements(transformed, name)
        assert _grants(statements, "kms:") == {}, name
        assert _grants(statements, "secretsmanager:") == {}, name


def test_functions_get_the_delivery_settings_from_globals(sam_default: dict[str, Any]) -> None:
    sam_template = sam_default
    variables = sam_template["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["BUNDLES_BUCKET"] == {"Ref": "BundlesBucket"}
    assert variables["CDN_DOMAIN"] == {"Fn::GetAtt": ["BundlesDistribution", "DomainName"]}
    assert variables["CDN_KEY_SECRET_ARN"] == {"Ref": "CdnSigningKeySecret"}
    assert variables["SIGNING_KEY_IDS"] == {"Ref": "SigningKey"}
    assert variables["CONTENT_KEY_ID"] == {"Ref": "ContentKey"}
    assert variables["RESIDENCY_ZONE"] == {"Ref": "ResidencyZone"}
    assert sam_template["Parameters"]["ResidencyZone"]["Default"] == "eu"


def test_every_gateway_response_is_a_problem_document(transformed: dict[str, Any]) -> None:
    body = transformed["Resources"]["ContentApi"]["Properties"]["Body"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    expected = {
        "UNAUTHORIZED": 401,
        "ACCESS_DENIED": 403,
        "MISSING_AUTHENTICATION_TOKEN": 404,
        "REQUEST_TOO_LARGE": 413,
        "UNSUPPORTED_MEDIA_TYPE": 415,
        "THROTTLED": 429,
        "QUOTA_EXCEEDED": 429,
        "DEFAULT_4XX": None,
        "DEFAULT_5XX": None,
    }
    assert set(responses) == set(expected)
    for name, status in expected.items():
        response = responses[name]
        assert response["responseParameters"]["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
        # The mapping template's variables are JSON once API Gateway fills them in.
        filled = response["responseTemplates"]["application/json"].replace("$context.error.messageString", '"m"')
        problem = json.loads(filled)
        assert problem["type"] and problem["title"] and problem["detail"]
        if status is not None:
            assert (response["statusCode"], problem["status"]) == (str(status), status)
