"""The one test kit, imported by the tests and the benchmarks alike.

- aws_calls: `AwsCallCounter`, the AWS API calls of one boto3 client or of the whole process,
  and `service_calls`, the calls of one of the app's own clients (conftest's
  `dynamodb_calls` and `sqs_calls` fixtures are made with it).
- lambda_context: `LambdaContext`, what Lambda hands a handler besides its event.
- seed: `sign_in_accounts`, accounts at the X emulator, signed in through the real flow.

Nothing here imports pytest: a benchmark runs without it. One copy stays outside on purpose:
tests/zip_runtime.py runs in a bare process (only the deployment zip and boto3 on the path)
and spells out its own LambdaContext.
"""
