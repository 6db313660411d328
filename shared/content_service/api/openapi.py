"""Print the API's OpenAPI document (``python -m content_service.api.openapi > docs/openapi.json``)."""

from content_service.api.app import openapi_document

if __name__ == "__main__":
    print(openapi_document())
