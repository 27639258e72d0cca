"""acmevault's own AWS client: the operations it calls, signed (SigV4) and sent without botocore's models.

botocore spends about 0.3 s of CPU and 45 MB in every process before its first request: importing it
and parsing the JSON models of each service it builds a client for. acmevault calls 32 operations of
11 services; this package makes those calls with the standard library, offering botocore's method
names, arguments, answers and exceptions for them, so the adapters are written (and type-checked)
against botocore's stubs as before. Its protocols: ``json_protocol`` (DynamoDB, Secrets Manager, ACM,
KMS, EventBridge, SQS), ``query_protocol`` (STS, SNS, CloudFormation), ``route53`` and ``s3`` (REST);
beneath them ``transport`` (send, retry), ``signing``, ``endpoints`` and ``credentials``.
"""
