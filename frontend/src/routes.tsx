// The console's pages, in one table: the router and the left menu are both built from it.
// To add a page: write it under pages/, add one entry here (and its menu label to
// i18n/en.ts and zh.ts under "nav"). Only pages whose API exists belong here.
import {
  AppstoreOutlined,
  BarChartOutlined,
  ControlOutlined,
  DatabaseOutlined,
  KeyOutlined,
  RobotOutlined,
  ScheduleOutlined,
  TeamOutlined,
  ToolOutlined,
} from "@ant-design/icons";
import { Skeleton } from "antd";
import { lazy, Suspense, type ComponentType, type ReactNode } from "react";
import type en from "./i18n/en";
import { ApiKeysPage } from "./pages/ApiKeys";
import { AppsPage } from "./pages/Apps";
import { BatchesPage } from "./pages/Batches";
import { KnowledgeBaseDetailPage } from "./pages/KnowledgeBaseDetail";
import { KnowledgeBasesPage } from "./pages/KnowledgeBases";
import { MembersPage } from "./pages/Members";
import { ModelsPage } from "./pages/Models";
import type { Permission } from "./session/workspace";

/** A page loaded on first visit (its own chunk: charts, editors), with a skeleton meanwhile. */
function lazyPage<K extends string>(load: () => Promise<Record<K, ComponentType>>, name: K): ReactNode {
  const Page: ComponentType = lazy(async () => ({ default: (await load())[name] as ComponentType }));
  return (
    <Suspense fallback={<Skeleton active paragraph={{ rows: 8 }} />}>
      <Page />
    </Suspense>
  );
}

const plugins = lazyPage(() => import("./pages/Plugins"), "PluginsPage");

export interface ConsoleRoute {
  /** Path under /, React Router syntax ("knowledge-bases/:id"). */
  path: string;
  element: ReactNode;
  /** Shown in the left menu (in table order) when set; nested paths select their parent. */
  menu?: { label: keyof (typeof en)["nav"]; icon: ReactNode };
  /** Only platform admins see it (menu and route). */
  platformAdmin?: boolean;
  /** Only roles with this permission see it in the menu (the API refuses the rest anyway). */
  permission?: Permission;
}

export const routes: ConsoleRoute[] = [
  { path: "models", element: <ModelsPage />, menu: { label: "models", icon: <AppstoreOutlined /> } },
  {
    path: "knowledge-bases",
    element: <KnowledgeBasesPage />,
    menu: { label: "knowledgeBases", icon: <DatabaseOutlined /> },
  },
  { path: "knowledge-bases/:id", element: <KnowledgeBaseDetailPage /> },
  { path: "apps", element: <AppsPage />, menu: { label: "apps", icon: <RobotOutlined /> } },
  { path: "apps/:id", element: lazyPage(() => import("./pages/AppDetail"), "AppDetailPage") },
  { path: "batches", element: <BatchesPage />, menu: { label: "batches", icon: <ScheduleOutlined /> } },
  { path: "plugins", element: plugins, menu: { label: "plugins", icon: <ToolOutlined /> } },
  { path: "plugins/tools", element: plugins },
  { path: "plugins/http-tools", element: plugins },
  { path: "plugins/mcp-servers", element: plugins },
  {
    path: "api-keys",
    element: <ApiKeysPage />,
    menu: { label: "apiKeys", icon: <KeyOutlined /> },
    permission: "viewApiKeys",
  },
  { path: "usage", element: lazyPage(() => import("./pages/Usage"), "UsagePage"), menu: { label: "usage", icon: <BarChartOutlined /> } },
  { path: "members", element: <MembersPage />, menu: { label: "members", icon: <TeamOutlined /> } },
  {
    path: "platform",
    element: lazyPage(() => import("./pages/Admin"), "AdminPage"),
    menu: { label: "admin", icon: <ControlOutlined /> },
    platformAdmin: true,
  },
];

/** Where / goes after signing in. */
export const HOME = "/models";
