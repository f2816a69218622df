"""A stand-in for Lambda's Python runtime, run by tests/test_deploy.py as

    python -I -S tests/zip_runtime.py <unzipped deployment.zip> <boto3 only> <handler>

With -I -S no site-packages are on the path: only the standard library, the unzipped
package, and a folder holding boto3 and what it needs, as Lambda's runtime provides them.
Each line on stdin is an event; each answer is one line `RESULT <json>` on stdout, after
whatever the function printed (its JSON logs and EMF metrics). A line `MODULES` answers
with where every imported module came from.
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from typing import Any


class LambdaContext:
    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/11/28/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def module_origins() -> dict[str, str]:
    origins = {}
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if origin:
            origins[name] = origin
    return origins


def main() -> None:
    task_dir, runtime_dir, handler_name = sys.argv[1:4]
    sys.path[:0] = [task_dir, runtime_dir]
    module_name, attribute = handler_name.rsplit(".", 1)
    handler: Any = getattr(importlib.import_module(module_name), attribute)
    for line in sys.stdin:
        if line.strip() == "MODULES":
            answer: Any = module_origins()
        else:
            answer = handler(json.loads(line), LambdaContext("responsetime-api"))
        sys.stdout.write("RESULT " + json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
