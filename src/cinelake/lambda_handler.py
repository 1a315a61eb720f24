"""The handler path of stacks deployed before 0.2.0 (`cinelake.lambda_handler.handler`).

Their function configuration names this module, and a code update alone does not change it;
they keep working until they are redeployed with the template's new handler path.
"""

from cinelake.aws_lambda.handler import handler

__all__ = ["handler"]
