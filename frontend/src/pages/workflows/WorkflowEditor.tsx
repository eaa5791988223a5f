// The canvas editor of a workflow app (the Configure tab of a workflow): palette, canvas
// (React Flow: drag to add, connect handles, minimap, controls), the selected node's panel,
// undo/redo, auto-layout, the check's problems on the nodes and in a list, and save
// (PUT /apps/{id}/draft; a refusal shows the API's message).
import "@xyflow/react/dist/style.css";
import { DeleteOutlined, NodeIndexOutlined, RedoOutlined, SaveOutlined, UndoOutlined } from "@ant-design/icons";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { Alert, Button, Card, Form, InputNumber, Space, Tooltip, Typography } from "antd";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import { useTranslation } from "react-i18next";
import { ErrorAlert, notifySuccess } from "../../components/feedback";
import type { FieldSpec } from "../../components/schemaFields";
import { useWorkspace, useWsKey } from "../../session/workspace";
import { useKnowledgeBases } from "../KnowledgeBases";
import { useModels } from "../Models";
import { useApps, useHttpTools, useTools, type App } from "../apps/model";
import { appKind, saveWorkflowDraft, useNodeTypes } from "./api";
import { CanvasContext } from "./canvasContext";
import {
  absolutePosition,
  canonical,
  defaultSettings,
  fromFlow,
  ITERATION,
  ITERATION_PADDING,
  iterationAt,
  NODE_TYPES,
  normalizeDefinition,
  SINGLETONS,
  type Position,
} from "./definition";
import { NODE_VIEWS } from "./FlowNodeView";
import { NodePanel } from "./NodePanel";
import { DRAG_TYPE, Palette } from "./Palette";
import { problemsByNode, variableChoices } from "./problems";
import { ProblemsList } from "./ProblemsList";
import { defaultsOf, settingsFields } from "./settings";
import { useCanvasState } from "./useCanvasState";
import { useWorkflowCheck } from "./useWorkflowCheck";

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return Boolean(el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.isContentEditable));
}

/** Ctrl/Cmd+Z undo, Ctrl/Cmd+Shift+Z (or Ctrl+Y) redo, Delete/Backspace delete, outside text
 *  fields and only while the canvas is shown (another tab keeps it mounted, hidden). */
function useShortcuts(enabled: boolean, canvas: React.RefObject<HTMLElement | null>, actions: { undo: () => void; redo: () => void; remove: () => void }) {
  const ref = useRef(actions);
  ref.current = actions;
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      if (typing(e.target) || !canvas.current?.offsetParent) return;
      if ((e.target as HTMLElement | null)?.closest?.(".ant-modal")) return;
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === "z") {
        e.preventDefault();
        if (e.shiftKey) ref.current.redo();
        else ref.current.undo();
      } else if (mod && e.key.toLowerCase() === "y") {
        e.preventDefault();
        ref.current.redo();
      } else if (e.key === "Delete" || e.key === "Backspace") {
        ref.current.remove();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [enabled, canvas]);
}

function Editor({ app, onDirtyChange }: { app: App; onDirtyChange: (dirty: boolean) => void }) {
  const { t } = useTranslation();
  const { can } = useWorkspace();
  const editable = can("editApps");
  const client = useQueryClient();
  const wsKey = useWsKey();
  const flow = useReactFlow();
  const wrapper = useRef<HTMLDivElement>(null);
  const stored = useMemo(() => normalizeDefinition(app.draft), [app.draft]);
  const [maxSteps, setMaxSteps] = useState(stored.max_steps);
  const canvas = useCanvasState(stored);
  const definition = useMemo(() => fromFlow(canvas.nodes, canvas.edges, { max_steps: maxSteps }), [canvas.nodes, canvas.edges, maxSteps]);
  const json = JSON.stringify(definition);
  const [savedJson, setSavedJson] = useState(() => JSON.stringify(canonical(stored)));
  const jsonNow = useRef(json);
  jsonNow.current = json;

  // The stored draft changed (saved, rolled back, edited elsewhere): the canvas shows it
  // unless it already does.
  const { reset } = canvas;
  useEffect(() => {
    const incoming = JSON.stringify(canonical(stored));
    setSavedJson(incoming);
    if (incoming !== jsonNow.current) {
      reset(stored);
      setMaxSteps(stored.max_steps);
    }
  }, [stored, reset]);
  const dirty = json !== savedJson;
  useEffect(() => onDirtyChange(dirty), [dirty, onDirtyChange]);

  const check = useWorkflowCheck(app.id, definition, editable);
  const problems = check.result?.problems ?? null;
  const decorations = useMemo(() => ({ problems: problemsByNode(problems ?? []), states: {} }), [problems]);

  const nodeTypes = useNodeTypes();
  const fieldsByType = useMemo(() => {
    const out: Record<string, FieldSpec[]> = {};
    for (const info of nodeTypes.data ?? []) out[info.type] = settingsFields(info.settings_schema);
    return out;
  }, [nodeTypes.data]);
  const paletteTypes = useMemo(() => {
    const known = nodeTypes.data?.map((n) => n.type);
    if (!known) return [...NODE_TYPES];
    return [...NODE_TYPES.filter((type) => known.includes(type)), ...known.filter((type) => !(NODE_TYPES as readonly string[]).includes(type))];
  }, [nodeTypes.data]);
  const present = new Set(canvas.nodes.filter((n) => !n.parentId).map((n) => n.data.kind));
  const models = useModels();
  const kbs = useKnowledgeBases();
  const tools = useTools();
  const httpTools = useHttpTools();
  const apps = useApps();
  const chatModels = (models.data ?? []).filter((m) => m.capabilities.includes("chat"));
  const defaultModel = (chatModels.find((m) => m.is_default) ?? chatModels[0])?.name ?? "";

  const selected = canvas.nodes.filter((n) => n.selected);
  const current = selected.length === 1 ? selected[0]! : null;
  const context = {
    variables: variableChoices(check.result?.variables ?? {}, current?.id),
    models: chatModels.map((m) => ({ value: m.name, label: m.display_name || m.name })),
    knowledgeBases: (kbs.data ?? []).map((kb) => ({ value: kb.id, label: kb.name })),
    tools: [
      { label: t("apps.configure.pluginTools"), options: (tools.data ?? []).map((tool) => ({ value: `plugin:${tool.id}`, label: tool.display_name || tool.id })) },
      { label: t("apps.configure.httpTools"), options: (httpTools.data ?? []).map((tool) => ({ value: `http:${tool.id}`, label: tool.name })) },
      { label: t("workflow.panel.apps"), options: (apps.data ?? []).filter((a) => a.published_version && a.id !== app.id).map((a) => ({ value: `app:${a.id}`, label: a.name })) },
    ],
    apps: (apps.data ?? []).filter((a) => appKind(a) === "agent" && a.published_version).map((a) => ({ value: a.id, label: a.name })),
    disabled: !editable,
  };

  const addAt = useCallback(
    (type: string, point: Position) => {
      const holder = type === ITERATION || SINGLETONS.has(type) ? null : iterationAt(canvas.nodes, point);
      const base = holder ? absolutePosition(canvas.nodes, holder.id) : { x: 0, y: 0 };
      const position = holder
        ? { x: Math.max(ITERATION_PADDING.left, point.x - base.x), y: Math.max(ITERATION_PADDING.top, point.y - base.y) }
        : point;
      const settings = defaultSettings(type, defaultsOf(fieldsByType[type] ?? []), defaultModel);
      canvas.add(type, position, settings, t(`workflow.types.${type}`, { defaultValue: type }), holder?.id ?? null);
    },
    [canvas, fieldsByType, defaultModel, t],
  );

  const addInView = (type: string) => {
    if (current?.data.kind === ITERATION && type !== ITERATION && !SINGLETONS.has(type)) {
      const at = absolutePosition(canvas.nodes, current.id);
      const inside = canvas.nodes.filter((n) => n.parentId === current.id).length;
      addAt(type, { x: at.x + ITERATION_PADDING.left + inside * 30, y: at.y + ITERATION_PADDING.top + inside * 30 });
      return;
    }
    const box = wrapper.current?.getBoundingClientRect();
    const center = box ? flow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 }) : { x: 0, y: 0 };
    const shift = (canvas.nodes.length % 6) * 24;
    addAt(type, { x: Math.round(center.x - 110 + shift), y: Math.round(center.y - 36 + shift) });
  };

  const onDrop = (e: DragEvent) => {
    const type = e.dataTransfer.getData(DRAG_TYPE);
    if (!type || !editable) return;
    e.preventDefault();
    const point = flow.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    addAt(type, { x: Math.round(point.x), y: Math.round(point.y) });
  };

  useShortcuts(editable, wrapper, { undo: canvas.undo, redo: canvas.redo, remove: canvas.removeSelected });

  const save = useMutation({
    mutationFn: async () => {
      await check.run(definition);
      return saveWorkflowDraft(app.id, definition);
    },
    meta: { silent: true },
    onSuccess: (saved) => {
      client.setQueryData(wsKey("apps", app.id), saved);
      void client.invalidateQueries({ queryKey: wsKey("apps") });
      notifySuccess(t("apps.configure.saved"));
    },
  });

  const layout = () => {
    canvas.layout();
    setTimeout(() => void flow.fitView({ padding: 0.2, maxZoom: 1, duration: 200 }), 50);
  };

  return (
    <CanvasContext.Provider value={decorations}>
      <Space direction="vertical" style={{ width: "100%" }}>
        {!editable && <Alert type="info" showIcon message={t("apps.configure.readOnly")} />}
        {save.error ? <ErrorAlert error={save.error} /> : null}
        <Space wrap className="wf-toolbar">
          {editable && (
            <Button type="primary" icon={<SaveOutlined />} loading={save.isPending} onClick={() => save.mutate()} data-testid="save-workflow">
              {t("apps.configure.save")}
            </Button>
          )}
          <Tooltip title="Ctrl+Z">
            <Button icon={<UndoOutlined />} disabled={!editable || !canvas.canUndo} onClick={canvas.undo} data-testid="undo">
              {t("workflow.undo")}
            </Button>
          </Tooltip>
          <Tooltip title="Ctrl+Shift+Z">
            <Button icon={<RedoOutlined />} disabled={!editable || !canvas.canRedo} onClick={canvas.redo} data-testid="redo">
              {t("workflow.redo")}
            </Button>
          </Tooltip>
          <Button icon={<DeleteOutlined />} disabled={!editable || (!selected.length && !canvas.edges.some((e) => e.selected))} onClick={canvas.removeSelected} data-testid="delete-selected">
            {t("workflow.delete")}
          </Button>
          <Button icon={<NodeIndexOutlined />} disabled={!editable} onClick={layout} data-testid="auto-layout">
            {t("workflow.autoLayout")}
          </Button>
          {dirty && <Typography.Text type="warning">{t("workflow.unsaved")}</Typography.Text>}
        </Space>
        <div className="wf-editor">
          {editable && <Palette types={paletteTypes} disabled={new Set([...present].filter((type) => SINGLETONS.has(type)))} onAdd={addInView} />}
          <div className="wf-canvas" ref={wrapper} data-testid="canvas" onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={onDrop}>
            <ReactFlow
              nodes={canvas.nodes}
              edges={canvas.edges}
              nodeTypes={NODE_VIEWS}
              onNodesChange={canvas.onNodesChange}
              onEdgesChange={canvas.onEdgesChange}
              onConnect={canvas.onConnect}
              isValidConnection={canvas.isValidConnection}
              onNodeDragStart={canvas.onDragStart}
              nodesDraggable={editable}
              nodesConnectable={editable}
              deleteKeyCode={null}
              fitView
              fitViewOptions={{ padding: 0.2, maxZoom: 1 }}
              minZoom={0.2}
              proOptions={{ hideAttribution: true }}
            >
              <Background />
              <MiniMap pannable zoomable style={{ width: 140, height: 90 }} />
              <Controls />
            </ReactFlow>
          </div>
          <div className="wf-side">
            {current ? (
              <NodePanel
                key={current.id}
                id={current.id}
                data={current.data}
                fields={fieldsByType[current.data.kind] ?? []}
                problems={decorations.problems[current.id] ?? []}
                context={context}
                onChange={(data, field) => canvas.updateNode(current.id, data, field)}
                onDelete={() => canvas.removeNode(current.id)}
              />
            ) : (
              <Card size="small" title={t("workflow.settings")}>
                <Typography.Paragraph type="secondary">{t("workflow.selectHint")}</Typography.Paragraph>
                <Form layout="vertical" size="small" component={false}>
                  <Form.Item label={t("workflow.maxSteps")} tooltip={t("workflow.maxStepsHint")}>
                    <InputNumber min={1} max={2000} value={maxSteps} disabled={!editable} onChange={(v) => typeof v === "number" && setMaxSteps(v)} style={{ width: "100%" }} />
                  </Form.Item>
                </Form>
              </Card>
            )}
          </div>
        </div>
        {check.error ? <ErrorAlert error={check.error} /> : null}
        <ProblemsList problems={problems} checking={check.checking} onSelect={canvas.select} />
      </Space>
    </CanvasContext.Provider>
  );
}

export function WorkflowEditor({ app, onDirtyChange }: { app: App; onDirtyChange: (dirty: boolean) => void }) {
  return (
    <ReactFlowProvider>
      <Editor app={app} onDirtyChange={onDirtyChange} />
    </ReactFlowProvider>
  );
}
