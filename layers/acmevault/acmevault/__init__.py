"""acmevault: ACME (EAB) certificates kept fresh in AWS Certificate Manager and S3, without servers."""

__version__ = "0.1.0"
