"""Test rig that runs cinelake's Lambda artifacts the way Lambda does, without Docker or AWS.

`runtime_api` stands in for the Lambda Runtime API, `sandbox` lays out the zips as
/var/task and /opt and starts the real runtime client (awslambdaric) under Python 3.12,
and `moto_cfn` makes moto's CloudFormation deploy the template faithfully or fail loudly.
"""
