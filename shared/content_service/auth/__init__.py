"""Bearer-token verification shared by the API's Lambda authorizer and the local gateway."""
