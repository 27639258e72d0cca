"""Adapters: the ports (:mod:`acmevault.ports`) implemented over AWS (boto3), an ACME CA (``acme``) and
DigiCert CertCentral's REST API. They may import the domain and the ports, never a use case.
"""
