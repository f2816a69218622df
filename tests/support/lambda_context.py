"""What Lambda hands a handler besides its event."""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNT = "123456789012"


@dataclass
class LambdaContext:
    """Lambda's context object, with the attributes Powertools and Chalice read; the ARN
    and the log group follow the function's name. The defaults are class attributes too
    (``LambdaContext.aws_request_id``)."""

    function_name: str = "responsetime-api"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "5a7e0c1e-0000-4000-8000-000000000001"
    log_stream_name: str = "2026/11/28/[$LATEST]0123456789abcdef"
    invoked_function_arn: str = ""
    log_group_name: str = ""

    def __post_init__(self) -> None:
        name = self.function_name
        self.invoked_function_arn = (
            self.invoked_function_arn or f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}"
        )
        self.log_group_name = self.log_group_name or f"/aws/lambda/{name}"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000
