// The playground's view of the workflow: the saved definition, read-only, each node lit by
// its run state (running, succeeded, failed, waiting); clicking a node shows its last run.
import "@xyflow/react/dist/style.css";
import { Background, Controls, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { useMemo } from "react";
import { CanvasContext } from "./canvasContext";
import { toFlow, type WorkflowDefinition } from "./definition";
import { NODE_VIEWS } from "./FlowNodeView";
import type { NodeRun } from "./runState";

export function RunCanvas({ definition, states, selected, onSelect }: { definition: WorkflowDefinition; states: Record<string, NodeRun>; selected: string | null; onSelect: (id: string | null) => void }) {
  const flow = useMemo(() => toFlow(definition), [definition]);
  const nodes = useMemo(() => flow.nodes.map((n) => ({ ...n, selected: n.id === selected, draggable: false, deletable: false })), [flow, selected]);
  const decorations = useMemo(() => ({ problems: {}, states }), [states]);
  return (
    <CanvasContext.Provider value={decorations}>
      <ReactFlowProvider>
        <div className="wf-canvas compact" data-testid="run-canvas">
          <ReactFlow
            nodes={nodes}
            edges={flow.edges}
            nodeTypes={NODE_VIEWS}
            nodesDraggable={false}
            nodesConnectable={false}
            deleteKeyCode={null}
            onNodeClick={(_, node) => onSelect(node.id)}
            onPaneClick={() => onSelect(null)}
            fitView
            fitViewOptions={{ padding: 0.15, maxZoom: 1 }}
            minZoom={0.1}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
      </ReactFlowProvider>
    </CanvasContext.Provider>
  );
}
