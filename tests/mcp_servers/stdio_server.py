"""A stdio MCP server for the tests (started by ministudio from the allow-list)."""

import os
import sys

from mcp.server.fastmcp import FastMCP

server = FastMCP("local")


@server.tool(description="The names of the environment variables this process was given.")
def environment() -> list[str]:
    return sorted(os.environ)


@server.tool(description="Says hello.")
def greet(name: str) -> str:
    return f"你好, {name}"


@server.tool(description="Exits the process in the middle of the call.")
def vanish() -> str:
    sys.stdout.flush()
    os._exit(3)


@server.tool(description="Writes a very long answer.")
def flood(size: int) -> str:
    return "x" * size


if __name__ == "__main__":
    server.run("stdio")
