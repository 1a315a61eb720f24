"""Make moto's CloudFormation deploy cinelake's template faithfully, or fail loudly.

moto 5.2 executes a change set's resources but leaves the stack's template, parameters and
Outputs as they were (only `create_stack`/`update_stack` refresh them), so a deploy through
change sets would see no outputs; the patch at the end of this module refreshes them, as AWS does.
A `AWS::Lambda::LayerVersion`'s Ref is a Python repr in moto, which breaks the function's update
(moto parses `Layers` as ARNs there); it is given the layer version ARN, as on AWS. And moto
has no update for `AWS::Logs::LogGroup`: a stack update turns the group into None (and later
calls fail), so an update that applies the retention and keeps the group is added.

moto skips `AWS::SecretsManager::Secret` (its Refs vanish), `AWS::S3::BucketPolicy`,
`AWS::CloudWatch::Alarm` and `AWS::Lambda::EventInvokeConfig` while the stack still reports
CREATE_COMPLETE, and reads a state machine only from `DefinitionString` (the template uses
`Definition` with `DefinitionSubstitutions`, which cfn-lint validates). These adapters register
CloudFormation models backed by moto's own services, so the secret, the bucket policy, the
alarms, the async-invoke configuration and the state machine's definition are readable through
the usual APIs, as on AWS. Importing this module is what registers the models;
`UNSUPPORTED_IS_FATAL` (a pytest filterwarnings spec) turns any other skipped type into an error.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.awslambda.models import LayerVersion, lambda_backends
from moto.cloudformation import parsing
from moto.cloudformation.models import ChangeSet
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.common_models import CloudFormationModel
from moto.logs.models import LogGroup
from moto.s3.models import s3_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.server import ThreadedMotoServer
from moto.stepfunctions.models import StateMachine

UNSUPPORTED_IS_FATAL = "error:Tried to parse .* not supported"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextmanager
def running_moto() -> Iterator[str]:
    """Run moto's server in this process (so the adapters and warning filters apply to it)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class CloudFormationSecret(CloudFormationModel):
    """`AWS::SecretsManager::Secret`: Ref is the ARN, as on AWS."""

    def __init__(self, account_id: str, region_name: str, name: str, arn: str) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.name = name
        self.arn = arn

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudFormationSecret:
        properties = cloudformation_json.get("Properties", {})
        secret_string = properties.get("SecretString")
        generate = properties.get("GenerateSecretString")
        if generate is not None:
            value = json.loads(generate.get("SecretStringTemplate", "{}"))
            value[generate["GenerateStringKey"]] = secrets.token_urlsafe(24)
            secret_string = json.dumps(value)
        backend = secretsmanager_backends[account_id][region_name]
        created = json.loads(
            backend.create_secret(
                name=resource_name,
                secret_string=secret_string,
                secret_binary=None,
                description=properties.get("Description"),
                tags=properties.get("Tags"),
                kms_key_id=properties.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
        )
        return cls(account_id, region_name, resource_name, created["ARN"])

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: CloudFormationSecret,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CloudFormationSecret:
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        backend = secretsmanager_backends[account_id][region_name]
        backend.delete_secret(
            resource_name, recovery_window_in_days=None, force_delete_without_recovery=True
        )


class CloudFormationBucketPolicy(CloudFormationModel):
    """`AWS::S3::BucketPolicy`: stored on moto's bucket, readable with `get_bucket_policy`."""

    def __init__(self, account_id: str, bucket: str) -> None:
        self.account_id = account_id
        self.bucket = bucket

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3::BucketPolicy"

    @property
    def physical_resource_id(self) -> str:
        return self.bucket

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudFormationBucketPolicy:
        properties = cloudformation_json["Properties"]
        bucket = properties["Bucket"]
        policy = json.dumps(properties["PolicyDocument"]).encode()
        s3_backends[account_id]["aws"].put_bucket_policy(bucket, policy)
        return cls(account_id, bucket)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: CloudFormationBucketPolicy,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> CloudFormationBucketPolicy:
        return cls.create_from_cloudformation_json(
            new_resource_name, cloudformation_json, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        bucket = cloudformation_json["Properties"]["Bucket"]
        s3_backends[account_id]["aws"].delete_bucket_policy(bucket)


class CloudFormationAlarm(CloudFormationModel):
    """`AWS::CloudWatch::Alarm`: put into moto's CloudWatch, so `describe_alarms` shows it."""

    def __init__(self, name: str) -> None:
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudFormationAlarm:
        p = cloudformation_json["Properties"]
        name = p.get("AlarmName", resource_name)
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=name,
            namespace=p["Namespace"],
            metric_name=p["MetricName"],
            comparison_operator=p["ComparisonOperator"],
            evaluation_periods=int(p["EvaluationPeriods"]),
            datapoints_to_alarm=int(p["DatapointsToAlarm"]) if "DatapointsToAlarm" in p else None,
            period=int(p["Period"]),
            threshold=float(p["Threshold"]),
            statistic=p["Statistic"],
            description=p.get("AlarmDescription", ""),
            dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []),
            ok_actions=p.get("OKActions", []),
            actions_enabled=str(p.get("ActionsEnabled", True)).lower() == "true",
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(name)


class CloudFormationEventInvokeConfig(CloudFormationModel):
    """`AWS::Lambda::EventInvokeConfig`: kept by moto's Lambda, as its API returns it."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Lambda::EventInvokeConfig"

    @property
    def physical_resource_id(self) -> str:
        return self.function_name

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> CloudFormationEventInvokeConfig:
        properties = dict(cloudformation_json["Properties"])
        function_name = properties.pop("FunctionName")
        properties.pop("Qualifier", None)
        lambda_backends[account_id][region_name].put_function_event_invoke_config(
            function_name, properties
        )
        return cls(function_name)


for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
    cached.cache_clear()


_apply_change_set = ChangeSet.apply


def _apply_and_refresh_outputs(self: ChangeSet) -> None:
    _apply_change_set(self)
    self.stack.template = self.template
    self.stack.parameters = dict(self.parameters)
    self.stack._parse_template()
    self.stack.output_map = self.stack._create_output_map()


ChangeSet.apply = _apply_and_refresh_outputs  # type: ignore[method-assign]
_create_state_machine = StateMachine.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def _create_state_machine_from_definition(
    cls: type[StateMachine],
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> StateMachine:
    """`Definition` + `DefinitionSubstitutions` become the `DefinitionString` moto reads."""
    properties = dict(cloudformation_json["Properties"])
    if "Definition" in properties:
        text = json.dumps(properties.pop("Definition"))
        for name, value in properties.pop("DefinitionSubstitutions", {}).items():
            text = text.replace("${" + name + "}", str(value))
        properties["DefinitionString"] = text
    return _create_state_machine(  # type: ignore[no-any-return]
        cls,
        resource_name,
        {**cloudformation_json, "Properties": properties},
        account_id,
        region_name,
    )


StateMachine.create_from_cloudformation_json = classmethod(_create_state_machine_from_definition)  # type: ignore[assignment,arg-type]
LayerVersion.physical_resource_id = property(lambda self: self.arn)  # type: ignore[attr-defined]


def _update_log_group(
    cls: type[LogGroup],
    *,
    original_resource: LogGroup,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> LogGroup:
    original_resource.set_retention_policy(cloudformation_json["Properties"].get("RetentionInDays"))
    return original_resource


LogGroup.update_from_cloudformation_json = classmethod(_update_log_group)  # type: ignore[assignment,arg-type]
