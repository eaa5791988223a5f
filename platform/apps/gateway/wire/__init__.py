"""The gateway's wire formats, apart from its HTTP views.

``openai`` and ``dashscope`` hold each format's request schemas, its translation to and
from the plugin contract (``plugins.base``), its response bodies and its stream frames;
``chat`` what both formats share. Pure functions of their arguments: no view, no
``NinjaAPI``, no Django request, no routing. The HTTP surfaces (``apps.gateway.openai_compat``,
``apps.gateway.dashscope_compat``), batch lines and apps read and write the formats here.
"""
