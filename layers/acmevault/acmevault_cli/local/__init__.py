"""The local stack: Pebble and moto (behind a strict-ACM proxy), a DNS server over Route 53, and
``acmevault local invoke``, which runs a function's handler on a sample event as ``sam local invoke`` would.
"""
