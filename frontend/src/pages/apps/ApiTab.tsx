// How to call the published app: its id, and ready-to-run curl, DashScope and OpenAI snippets.
import { Alert, Card, Input, Space, Tabs, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { CopyButton } from "../../components/CopyButton";
import { useWorkspace } from "../../session/workspace";
import type { App } from "./model";

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
        <Tabs
          items={(Object.keys(code) as (keyof typeof code)[]).map((key) => ({
            key,
            label: t(`apps.api.snippets.${key}`),
            children: (
              <div style={{ position: "relative" }}>
                <pre className="code-block" data-testid={`snippet-${key}`}>{code[key]}</pre>
                <div style={{ position: "absolute", top: 8, right: 8 }}>
                  <CopyButton text={code[key]} />
                </div>
              </div>
            ),
          }))}
        />
      </Space>
    </Card>
  );
}
