"""Workflow apps: a stored definition of nodes and edges (``definition``), checked on save
(``validation``), compiled to a LangGraph ``StateGraph`` and run as a stream of events
(``engine``, ``runner``); each node type is a module of ``nodes``. Agent apps run on the
same engine, as a graph of one agent node (``apps.applications.runtime``)."""
