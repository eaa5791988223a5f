// Who is signed in and which workspace the console acts on. The workspace's slug goes out
// as X-Workspace on every request and is remembered in localStorage; query keys start with
// it (wsKey), so switching refetches everything.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { api, call, onUnauthenticated, setCurrentWorkspace, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";

const STORAGE_KEY = "ministudio.workspace";
export type Me = Schemas["MeOut"];
export type MyWorkspace = Schemas["MyWorkspaceOut"];
export type Role = "admin" | "developer" | "viewer";

/** What a role may do in the console (README's permission matrix; the API enforces it). */
export const PERMISSIONS = {
  manageMembers: ["admin"],
  viewApiKeys: ["admin", "developer"],
  createApiKeys: ["admin", "developer"],
  revokeAnyApiKey: ["admin"],
  editKnowledge: ["admin", "developer"],
  editApps: ["admin", "developer"],
  configurePlugins: ["admin"],
  runTools: ["admin", "developer"],
  editHttpTools: ["admin", "developer"],
  // Whether the workspace's published apps are served as tools at /mcp.
  manageMcpServing: ["admin"],
  // The workspace's own settings of its granted models (the response cache).
  configureModels: ["admin"],
  // Calling models: playgrounds, batch uploads, creating and cancelling batches.
  useModels: ["admin", "developer", "viewer"],
} as const satisfies Record<string, readonly Role[]>;
export type Permission = keyof typeof PERMISSIONS;

export const meKey = ["me"] as const;

/** Open this workspace next time the console loads (after joining one by invitation). */
export function rememberWorkspace(slug: string): void {
  localStorage.setItem(STORAGE_KEY, slug);
}

export function useMe() {
  return useQuery({
    queryKey: meKey,
    queryFn: async (): Promise<Me | null> => {
      try {
        return await call(api.GET("/console/api/auth/me"));
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 60_000,
  });
}

interface WorkspaceState {
  me: Me;
  workspaces: MyWorkspace[];
  workspace: MyWorkspace | null;
  role: Role | null;
  isPlatformAdmin: boolean;
  switchTo: (slug: string) => void;
  can: (permission: Permission) => boolean;
}

const WorkspaceContext = createContext<WorkspaceState | null>(null);

export function WorkspaceProvider({ me, children }: { me: Me; children: ReactNode }) {
  const client = useQueryClient();
  const workspaces = useQuery({
    queryKey: ["workspaces"],
    queryFn: () => call(api.GET("/console/api/workspaces")),
  });
  const list = workspaces.data ?? me.workspaces;
  const [slug, setSlug] = useState<string | null>(() => localStorage.getItem(STORAGE_KEY));
  const workspace = list.find((w) => w.slug === slug) ?? list[0] ?? null;
  // Set synchronously, before children render and fire their queries.
  setCurrentWorkspace(workspace?.slug ?? null);

  const switchTo = useCallback((next: string) => {
    localStorage.setItem(STORAGE_KEY, next);
    setCurrentWorkspace(next);
    setSlug(next);
  }, []);

  useEffect(
    () =>
      onUnauthenticated(() => {
        client.setQueryData(meKey, null);
      }),
    [client],
  );

  const value = useMemo<WorkspaceState>(() => {
    const role = (workspace?.role as Role | undefined) ?? null;
    const isPlatformAdmin = Boolean(me.user?.is_platform_admin);
    return {
      me,
      workspaces: list,
      workspace,
      role,
      isPlatformAdmin,
      switchTo,
      can: (permission) =>
        isPlatformAdmin || (role !== null && (PERMISSIONS[permission] as readonly Role[]).includes(role)),
    };
  }, [me, list, workspace, switchTo]);
  return <WorkspaceContext.Provider value={value}>{children}</WorkspaceContext.Provider>;
}

export function useWorkspace(): WorkspaceState {
  const state = useContext(WorkspaceContext);
  if (!state) throw new Error("useWorkspace outside WorkspaceProvider");
  return state;
}

/** A query key scoped to the current workspace: ["ws", slug, ...parts]. */
export function useWsKey() {
  const { workspace } = useWorkspace();
  return useCallback((...parts: unknown[]) => ["ws", workspace?.slug ?? "", ...parts] as const, [workspace?.slug]);
}
