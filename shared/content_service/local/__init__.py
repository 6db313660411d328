"""The embedded local stack: moto on loopback, resources from template.yaml, the Lambda event
sources played in-process, and a local API gateway with a dev token issuer."""
