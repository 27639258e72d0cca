"""Stand-ins, clearly marked as such: HTTP fakes of vendor APIs the local stack has no real counterpart of
(certcentral.py, sxg_ca.py), and in-memory implementations of the ports for the millisecond unit suites."""
