// How to call the published app: its id, and ready-to-run curl, DashScope and OpenAI snippets;
// and how to use it as a tool over MCP (the workspace's /mcp endpoint, when serving is on).
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Card, Divider, Input, Space, Switch, Tabs, Tag, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api, call } from "../../api/client";
import { CopyButton } from "../../components/CopyButton";
import { ErrorAlert, QueryState } from "../../components/feedback";
import { useWorkspace, useWsKey } from "../../session/workspace";
import type { App } from "./model";

/** The name an MCP client (or another app) calls the app by: its name lower-cased, runs of
 * anything but a-z and 0-9 made one "_", trimmed of "_", cut at 56 characters; `app_<first
 * 8 hex digits of its id>` when nothing is left. The same as the backend's
 * `apps.applications.app_tools.tool_name`. */
export function appToolName(app: Pick<App, "id" | "name">): string {
  const slug = app.name.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 56);
  return slug || `app_${app.id.replace(/-/g, "").slice(0, 8)}`;
}

export function mcpSnippets(url: string, toolName: string): Record<"client" | "python", string> {
  const client = {
    mcpServers: { ministudio: { url, headers: { Authorization: "Bearer <your API key>" } } },
  };
  return {
    client: `${JSON.stringify(client, null, 2)}\n`,
    python: `import asyncio

from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client


async def main():
    async with streamablehttp_client(
        "${url}", headers={"Authorization": "Bearer sk-..."}
    ) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            print([tool.name for tool in tools.tools])
            result = await session.call_tool("${toolName}", {"prompt": "你好"})
            print(result.content[0].text)


asyncio.run(main())
`,
  };
}

function Snippets({ code, prefix }: { code: Record<string, string>; prefix: string }) {
  const { t } = useTranslation();
  return (
    <Tabs
      items={Object.keys(code).map((key) => ({
        key,
        label: t(`${prefix}.${key}`),
        children: (
          <div style={{ position: "relative" }}>
            <pre className="code-block" data-testid={`snippet-${key}`}>{code[key]}</pre>
            <div style={{ position: "absolute", top: 8, right: 8 }}>
              <CopyButton text={code[key]!} />
            </div>
          </div>
        ),
      }))}
    />
  );
}

function McpSection({ app }: { app: App }) {
  const { t } = useTranslation();
  const { can } = useWorkspace();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const serving = useQuery({ queryKey: wsKey("mcp-serving"), queryFn: () => call(api.GET("/console/api/mcp-serving")) });
  const toggle = useMutation({
    mutationFn: (enabled: boolean) => call(api.PATCH("/console/api/mcp-serving", { body: { enabled } })),
    meta: { silent: true },
    onSuccess: (data) => client.setQueryData(wsKey("mcp-serving"), data),
  });
  const url = `${window.location.origin}${serving.data?.path || "/mcp"}`;
  const toolName = appToolName(app);
  const enabled = Boolean(serving.data?.enabled);
  const admin = can("manageMcpServing");
  return (
    <div data-testid="mcp-section">
      <Divider titlePlacement="start" style={{ marginTop: 8 }}>{t("apps.api.mcp.title")}</Divider>
      <QueryState query={serving} rows={2}>
        <Space direction="vertical" size={12} style={{ width: "100%" }}>
          <Typography.Text type="secondary">{t("apps.api.mcp.intro")}</Typography.Text>
          <Space wrap>
            <Typography.Text strong>{t("apps.api.mcp.serving")}</Typography.Text>
            {admin ? (
              <Switch checked={enabled} loading={toggle.isPending} onChange={(value) => toggle.mutate(value)} aria-label={t("apps.api.mcp.serving")} data-testid="mcp-serving-switch" />
            ) : (
              <Tag color={enabled ? "green" : "default"}>{enabled ? t("apps.api.mcp.on") : t("apps.api.mcp.off")}</Tag>
            )}
          </Space>
          {toggle.error ? <ErrorAlert error={toggle.error} /> : null}
          {!enabled && <Alert type="warning" showIcon message={t("apps.api.mcp.disabled")} description={admin ? t("apps.api.mcp.disabledAdmin") : t("apps.api.mcp.disabledAsk")} data-testid="mcp-off" />}
          {!app.published_version && <Alert type="info" showIcon message={t("apps.api.mcp.notPublished")} />}
          <div>
            <Typography.Text strong>{t("apps.api.mcp.url")}</Typography.Text>
            <Space.Compact style={{ width: "100%", marginTop: 4 }}>
              <Input readOnly value={url} style={{ fontFamily: "monospace" }} data-testid="mcp-url" />
              <CopyButton text={url} />
            </Space.Compact>
          </div>
          <Typography.Text>
            {t("apps.api.mcp.toolName")} <Typography.Text code data-testid="mcp-tool-name">{toolName}</Typography.Text>{" "}
            <Typography.Text type="secondary">{t("apps.api.mcp.toolNameHint")}</Typography.Text>
          </Typography.Text>
          <Snippets code={mcpSnippets(url, toolName)} prefix="apps.api.mcp.snippets" />
        </Space>
      </QueryState>
    </div>
  );
}

export function appSnippets(appId: string, origin: string): Record<"curl" | "dashscope" | "dashscopeStream" | "openai", string> {
  return {
    curl: `curl -N ${origin}/api/v1/apps/${appId}/completion \\
  -H "Authorization: Bearer $DASHSCOPE_API_KEY" \\
  -H "Content-Type: application/json" \\
  -H "X-DashScope-SSE: enable" \\
  -d '{"input": {"prompt": "你好"}, "parameters": {"incremental_output": true}}'
`,
    dashscope: `import dashscope
from dashscope import Application

dashscope.base_http_api_url = "${origin}/api/v1"
response = Application.call(app_id="${appId}", api_key="sk-...", prompt="你好")
print(response.output.text)
print(response.output.session_id)  # pass it back as session_id= to continue
for ref in response.output.doc_references or []:
    print(ref.index_id, ref.doc_name)
`,
    dashscopeStream: `import dashscope
from dashscope import Application

dashscope.base_http_api_url = "${origin}/api/v1"
for chunk in Application.call(
    app_id="${appId}",
    api_key="sk-...",
    prompt="你好",
    stream=True,
    incremental_output=True,
):
    print(chunk.output.text, end="", flush=True)
`,
    openai: `from openai import OpenAI

client = OpenAI(base_url="${origin}/compatible-mode/v1", api_key="sk-...")
reply = client.chat.completions.create(
    model="app:${appId}", messages=[{"role": "user", "content": "你好"}]
)
print(reply.choices[0].message.content)
`,
  };
}

export function ApiTab({ app }: { app: App }) {
  const { t } = useTranslation();
  const { can } = useWorkspace();
  const code = appSnippets(app.id, window.location.origin);
  return (
    <Card size="small">
      <Space direction="vertical" size={12} style={{ width: "100%" }}>
        {!app.published_version && <Alert type="warning" showIcon message={t("apps.api.notPublished")} />}
        <div>
          <Typography.Text strong>{t("apps.api.appId")}</Typography.Text>
          <Space.Compact style={{ width: "100%", marginTop: 4 }}>
            <Input readOnly value={app.id} style={{ fontFamily: "monospace" }} data-testid="app-id" />
            <CopyButton text={app.id} />
          </Space.Compact>
        </div>
        <Typography.Text type="secondary">
          {t("apps.api.keyHint")} {can("createApiKeys") ? <Link to="/api-keys">{t("apps.api.createKey")}</Link> : t("apps.api.askForKey")}
        </Typography.Text>
        <Snippets code={code} prefix="apps.api.snippets" />
        <McpSection app={app} />
      </Space>
    </Card>
  );
}
