"""The use cases: issue, renew, revoke, rotate, recover, authorize.

They talk to the world only through the protocols in :mod:`acmevault.ports`; no module here imports an
adapter (``acmevault.adapters``), an entrypoint or the composition root. ``make lint`` enforces this.
"""
