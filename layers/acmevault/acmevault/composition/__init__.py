"""The composition root: settings from the environment, and the adapters wired into the use cases' ports.

The only place that knows both the use cases and the adapters; entrypoints (Lambda handlers, the HTTP API,
the CLI) get their services from here.
"""
