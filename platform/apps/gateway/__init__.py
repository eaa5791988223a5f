"""The gateway: tenant programs call their workspace's models through the OpenAI- and
DashScope-compatible surfaces; every call is routed, metered and held to its quotas.

It sits above endpoints (what can be called) and usage (what was called): neither of
those imports it.
"""
