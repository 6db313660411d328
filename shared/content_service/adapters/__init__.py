"""Adapters: the ports implemented against AWS (boto3, pynamodb). Nothing else imports the SDK."""
