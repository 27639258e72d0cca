"""Thin adapters over boto3. Each turns botocore errors into acmevault's own."""
