"""The domain: what a certificate, a directory and their policies are, and the rules over them.

Pure Python plus ``cryptography`` (keys, CSRs and certificates are values here). Nothing in this package
talks to a network, reads the environment or imports another acmevault layer.
"""
