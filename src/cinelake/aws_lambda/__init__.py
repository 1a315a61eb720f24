"""Stage 1B on AWS Lambda: the handler (a shell like the CLI), the artifact build and the deploy.

`handler` may import the services; `build` and `deploy` import only leaf modules and boto3.
The CLI's `lambda` commands call `build` and `deploy`; nothing else imports this package.
"""
