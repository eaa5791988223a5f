// The canvas editor of a workflow app (the Configure tab of a workflow): palette, canvas
// (React Flow: drag to add, connect handles, minimap, controls), the selected node's panel,
// undo/redo, auto-layout, the check's problems on the nodes and in a list, and save
// (PUT /apps/{id}/draft; a refusal shows the API's message).
import "@xyflow/react/dist/style.css";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Background, Controls, MiniMap, ReactFlow, ReactFlowProvider, useReactFlow } from "@xyflow/react";
import { Alert, Space } from "antd";
import { useCallback, useEffect, useMemo, useRef, type DragEvent } from "react";
import { useTranslation } from "react-i18next";
import { ErrorAlert, notifySuccess } from "../../components/feedback";
import { useWorkspace, useWsKey } from "../../session/workspace";
import type { App } from "../apps/model";
import { saveWorkflowDraft } from "./api";
import { CanvasContext } from "./canvasContext";
import { absolutePosition, defaultSettings, ITERATION, ITERATION_PADDING, iterationAt, SINGLETONS, type Position } from "./definition";
import { EditorToolbar } from "./EditorToolbar";
import { NODE_VIEWS } from "./FlowNodeView";
import { NodePanel } from "./NodePanel";
import { DRAG_TYPE, Palette } from "./Palette";
import { problemsByNode, variableChoices } from "./problems";
import { ProblemsList } from "./ProblemsList";
import { defaultsOf } from "./settings";
import { useCanvasState } from "./useCanvasState";
import { useDraft, useStoredDefinition } from "./useDraft";
import { useNodeCatalog, useWorkspaceChoices } from "./useEditorChoices";
import { useShortcuts } from "./useShortcuts";
import { useWorkflowCheck } from "./useWorkflowCheck";
import { WorkflowSettings } from "./WorkflowSettings";

function Editor({ app, onDirtyChange }: { app: App; onDirtyChange: (dirty: boolean) => void }) {
  const { t } = useTranslation();
  const editable = useWorkspace().can("editApps");
  const client = useQueryClient();
  const wsKey = useWsKey();
  const flow = useReactFlow();
  const wrapper = useRef<HTMLDivElement>(null);
  const stored = useStoredDefinition(app.draft);
  const canvas = useCanvasState(stored);
  const { definition, dirty, maxSteps, setMaxSteps } = useDraft(stored, canvas);
  useEffect(() => onDirtyChange(dirty), [dirty, onDirtyChange]);

  const check = useWorkflowCheck(app.id, definition, editable);
  const problems = check.result?.problems ?? null;
  const decorations = useMemo(() => ({ problems: problemsByNode(problems ?? []), states: {} }), [problems]);
  const { fieldsByType, paletteTypes } = useNodeCatalog();
  const { defaultModel, choices } = useWorkspaceChoices(app.id);

  const selected = canvas.nodes.filter((n) => n.selected);
  const current = selected.length === 1 ? selected[0]! : null;
  const context = { ...choices, variables: variableChoices(check.result?.variables ?? {}, current?.id), disabled: !editable };
  const singletonsPresent = new Set(canvas.nodes.filter((n) => !n.parentId && SINGLETONS.has(n.data.kind)).map((n) => n.data.kind));

  /** Add a node at a point of the canvas: inside the iteration there, if any. */
  const addAt = useCallback(
    (type: string, point: Position) => {
      const holder = type === ITERATION || SINGLETONS.has(type) ? null : iterationAt(canvas.nodes, point);
      const base = holder ? absolutePosition(canvas.nodes, holder.id) : { x: 0, y: 0 };
      const position = holder ? { x: Math.max(ITERATION_PADDING.left, point.x - base.x), y: Math.max(ITERATION_PADDING.top, point.y - base.y) } : point;
      const settings = defaultSettings(type, defaultsOf(fieldsByType[type] ?? []), defaultModel);
      canvas.add(type, position, settings, t(`workflow.types.${type}`, { defaultValue: type }), holder?.id ?? null);
    },
    [canvas, fieldsByType, defaultModel, t],
  );

  /** A click in the palette: into the selected iteration, else in the middle of the view. */
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
        <EditorToolbar
          editable={editable}
          saving={save.isPending}
          dirty={dirty}
          canUndo={canvas.canUndo}
          canRedo={canvas.canRedo}
          canDelete={selected.length > 0 || canvas.edges.some((e) => e.selected)}
          onSave={() => save.mutate()}
          onUndo={canvas.undo}
          onRedo={canvas.redo}
          onDelete={canvas.removeSelected}
          onLayout={layout}
        />
        <div className="wf-editor">
          {editable && <Palette types={paletteTypes} disabled={singletonsPresent} onAdd={addInView} />}
          <div
            className="wf-canvas"
            ref={wrapper}
            data-testid="canvas"
            onDragOver={(e) => {
              e.preventDefault();
              e.dataTransfer.dropEffect = "move";
            }}
            onDrop={onDrop}
          >
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
              <WorkflowSettings maxSteps={maxSteps} disabled={!editable} onChange={setMaxSteps} />
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
