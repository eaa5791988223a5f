// The node types a canvas may add: drag one onto the canvas (or into an iteration), or click
// it to add it in view. Start and end are offered while the workflow lacks them.
import { Tooltip, Typography } from "antd";
import { useTranslation } from "react-i18next";
import { nodeLook } from "./nodeLook";

export const DRAG_TYPE = "application/x-ministudio-node";

export function Palette({ types, disabled, onAdd }: { types: string[]; disabled: Set<string>; onAdd: (type: string) => void }) {
  const { t } = useTranslation();
  return (
    <div className="wf-palette" data-testid="palette">
      <Typography.Text type="secondary" style={{ fontSize: 12 }}>
        {t("workflow.palette.hint")}
      </Typography.Text>
      {types.map((type) => {
        const look = nodeLook(type);
        const off = disabled.has(type);
        return (
          <Tooltip key={type} title={t(`workflow.typeHints.${type}`, { defaultValue: "" }) || undefined} placement="right">
            <button
              type="button"
              className="wf-palette-item"
              disabled={off}
              draggable={!off}
              data-testid={`palette-${type}`}
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_TYPE, type);
                e.dataTransfer.effectAllowed = "move";
              }}
              onClick={() => onAdd(type)}
            >
              <span className="wf-node-icon" style={{ background: look.color }}>{look.icon}</span>
              {t(`workflow.types.${type}`, { defaultValue: type })}
            </button>
          </Tooltip>
        );
      })}
    </div>
  );
}
