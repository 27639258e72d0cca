"""Thin adapters over botocore. Each turns botocore errors into acmevault's own."""
