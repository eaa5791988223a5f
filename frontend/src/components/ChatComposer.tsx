import { SendOutlined, StopOutlined } from "@ant-design/icons";
import { Button, Input, Space } from "antd";
import { useTranslation } from "react-i18next";

/** The message box of the playgrounds: Enter sends, Shift+Enter adds a line; while an
 *  answer streams, the send button becomes a stop button. */
export function ChatComposer(props: {
  value: string;
  onChange: (value: string) => void;
  onSend: () => void;
  onStop: () => void;
  busy: boolean;
  disabled?: boolean;
  inputTestId?: string;
  sendTestId?: string;
}) {
  const { t } = useTranslation();
  const { value, onChange, onSend, onStop, busy, disabled = false } = props;
  return (
    <Space.Compact style={{ width: "100%", marginTop: 12 }}>
      <Input.TextArea
        autoSize={{ minRows: 1, maxRows: 5 }}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onPressEnter={(e) => {
          if (!e.shiftKey) {
            e.preventDefault();
            onSend();
          }
        }}
        placeholder={t("models.playground.placeholder")}
        disabled={disabled}
        data-testid={props.inputTestId}
      />
      {busy ? (
        <Button icon={<StopOutlined />} onClick={onStop}>
          {t("models.playground.stop")}
        </Button>
      ) : (
        <Button
          type="primary"
          icon={<SendOutlined />}
          onClick={onSend}
          disabled={disabled || !value.trim()}
          data-testid={props.sendTestId}
        >
          {t("models.playground.send")}
        </Button>
      )}
    </Space.Compact>
  );
}
