"""An MCP client nobody here wrote (the official Python SDK) driving pulse-etl's MCP server.

Usage:
  client.py http URL TOKEN CALLS_JSON
  client.py stdio COMMAND_JSON ENV_JSON CALLS_JSON

CALLS_JSON is a list of [tool name, arguments]. Prints one JSON object on stdout: the
protocol version agreed, the tools listed (name, description, input schema) and, per call,
whether it was an error and its text.
"""

import asyncio
import json
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def drive(read, write, calls):
    async with ClientSession(read, write) as session:
        initialized = await session.initialize()
        listed = await session.list_tools()
        results = []
        for name, arguments in calls:
            result = await session.call_tool(name, arguments)
            text = "".join(getattr(part, "text", "") for part in result.content)
            results.append({"tool": name, "is_error": bool(result.is_error), "text": text})
        return {
            "protocol_version": str(initialized.protocol_version),
            "server": initialized.server_info.name,
            "tools": [
                {"name": t.name, "description": t.description, "schema": t.input_schema}
                for t in listed.tools
            ],
            "results": results,
        }


async def main():
    kind = sys.argv[1]
    if kind == "http":
        url, token, calls = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with http:
            async with streamable_http_client(url, http_client=http) as streams:
                read, write = streams[0], streams[1]
                report = await drive(read, write, calls)
    else:
        command, env, calls = json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
        server = StdioServerParameters(command=command[0], args=command[1:], env=env)
        async with stdio_client(server) as streams:
            read, write = streams[0], streams[1]
            report = await drive(read, write, calls)
    print(json.dumps(report))


asyncio.run(main())
