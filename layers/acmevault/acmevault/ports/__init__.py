"""The interfaces use cases talk to. Adapters implement them: acmevault.adapters.aws over botocore,
acmevault.adapters.acme over certbot's ``acme`` package (CaAccounts), acmevault.adapters.certcentral over
DigiCert's Services API (CredentialProvider).

What they raise is acmevault's own errors (acmevault.domain.errors), never a vendor's: each method names
the errors it raises on purpose (DirectoryNotFound, ConflictError, LeaseHeld, ...). Besides those, any
method of a port kept in AWS may raise AwsUnavailable (an UnavailableError: AWS cannot be reached,
throttles or fails; try again later) and AwsError (AWS refused the request: access denied, a bad
parameter). Directories and CredentialVersions check the directory name first: ValidationError when it is
not a valid name.

By area: ``ca`` (the CA and its accounts), ``certificates``, ``directories``, ``delivery`` (DNS, ACM, S3,
the key vault), ``telemetry`` (events, alerts, metrics).
"""
