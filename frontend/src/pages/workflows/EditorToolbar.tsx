// The canvas's toolbar: save, undo, redo, delete the selection, auto-layout, unsaved mark.
import { DeleteOutlined, NodeIndexOutlined, RedoOutlined, SaveOutlined, UndoOutlined } from "@ant-design/icons";
import { Button, Space, Tooltip, Typography } from "antd";
import { useTranslation } from "react-i18next";

export interface ToolbarProps {
  editable: boolean;
  saving: boolean;
  dirty: boolean;
  canUndo: boolean;
  canRedo: boolean;
  canDelete: boolean;
  onSave: () => void;
  onUndo: () => void;
  onRedo: () => void;
  onDelete: () => void;
  onLayout: () => void;
}

export function EditorToolbar(p: ToolbarProps) {
  const { t } = useTranslation();
  return (
    <Space wrap className="wf-toolbar">
      {p.editable && (
        <Button type="primary" icon={<SaveOutlined />} loading={p.saving} onClick={p.onSave} data-testid="save-workflow">
          {t("apps.configure.save")}
        </Button>
      )}
      <Tooltip title="Ctrl+Z">
        <Button icon={<UndoOutlined />} disabled={!p.editable || !p.canUndo} onClick={p.onUndo} data-testid="undo">
          {t("workflow.undo")}
        </Button>
      </Tooltip>
      <Tooltip title="Ctrl+Shift+Z">
        <Button icon={<RedoOutlined />} disabled={!p.editable || !p.canRedo} onClick={p.onRedo} data-testid="redo">
          {t("workflow.redo")}
        </Button>
      </Tooltip>
      <Button icon={<DeleteOutlined />} disabled={!p.editable || !p.canDelete} onClick={p.onDelete} data-testid="delete-selected">
        {t("workflow.delete")}
      </Button>
      <Button icon={<NodeIndexOutlined />} disabled={!p.editable} onClick={p.onLayout} data-testid="auto-layout">
        {t("workflow.autoLayout")}
      </Button>
      {p.dirty && <Typography.Text type="warning">{t("workflow.unsaved")}</Typography.Text>}
    </Space>
  );
}
