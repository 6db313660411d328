"""A created resource's Location is what the client must request, behind the stage or base path."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from content_service.api.responses import api_location


def event(path: str, requested: str | None) -> APIGatewayProxyEvent:
    context = {} if requested is None else {"path": requested}
    return APIGatewayProxyEvent({"path": path, "requestContext": context})


@pytest.mark.parametrize(
    ("requested", "location"),
    [
        ("/prod/v1/bundles", "/prod/v1/bundles/bnd_1"),  # the stage of an execute-api URL
        ("/content/v1/bundles", "/content/v1/bundles/bnd_1"),  # a custom domain's base-path mapping
        ("/v1/bundles", "/v1/bundles/bnd_1"),  # a custom domain mapped at its root
        (None, "/v1/bundles/bnd_1"),  # no request context (a direct invocation)
        ("/elsewhere", "/v1/bundles/bnd_1"),  # a context that does not end with the path is not trusted
    ],
)
def test_the_location_keeps_the_prefix_the_request_came_through(requested, location) -> None:
    assert api_location(event("/v1/bundles", requested), "/v1/bundles/bnd_1") == location
