"""Powertools Logger, wired once. Log lines carry ids and outcomes, never a token,
secret, verifier or cookie value."""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger

logger = Logger(service="responsetime")

# These libraries log request headers, token responses and signed URLs at DEBUG. Whatever
# LOG_LEVEL an operator sets, they stay quiet, so no secret reaches the logs through them.
for _name in ("requests_oauthlib", "oauthlib", "tweepy", "urllib3", "botocore", "boto3"):
    logging.getLogger(_name).setLevel(logging.WARNING)
