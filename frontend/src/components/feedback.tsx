// Loading, error and empty states, and the toasts that show API errors with their message.
import { Alert, App, Empty, Result, Skeleton } from "antd";
import type { MessageInstance } from "antd/es/message/interface";
import { useEffect, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { ApiError, errorMessage } from "../api/errors";

let toast: MessageInstance | null = null;

/** Show an error's message (an API error's own words) as a toast. */
export function notifyError(error: unknown): void {
  const text = errorMessage(error);
  if (toast) void toast.error(text, 6);
  else console.error(text);
}

export function notifySuccess(text: string): void {
  void toast?.success(text);
}

/** Mounted once inside antd's <App>: lets code outside React (the query cache) toast. */
export function FeedbackBridge() {
  const { message } = App.useApp();
  useEffect(() => {
    toast = message;
    return () => {
      toast = null;
    };
  }, [message]);
  return null;
}

/** An inline error: the API's message, and its code and request id for a bug report. */
export function ErrorAlert({ error, action }: { error: unknown; action?: ReactNode }) {
  const { t } = useTranslation();
  const detail =
    error instanceof ApiError && error.status !== 0
      ? `${error.code}${error.requestId ? ` · ${t("common.requestId")} ${error.requestId}` : ""}`
      : undefined;
  return <Alert type="error" showIcon message={errorMessage(error)} description={detail} action={action} />;
}

interface QueryLike {
  isPending: boolean;
  error: unknown;
}

/** Loading skeleton, the error, or the content of a query. */
export function QueryState({ query, children, rows = 4 }: { query: QueryLike; children: ReactNode; rows?: number }) {
  if (query.error) return <ErrorAlert error={query.error} />;
  if (query.isPending) return <Skeleton active paragraph={{ rows }} />;
  return <>{children}</>;
}

/** An empty state that says what to do next. */
export function EmptyState({ title, hint, action }: { title: string; hint?: ReactNode; action?: ReactNode }) {
  return (
    <Empty
      image={Empty.PRESENTED_IMAGE_SIMPLE}
      description={
        <div>
          <div style={{ fontWeight: 500 }}>{title}</div>
          {hint && <div style={{ color: "rgba(0,0,0,0.55)", marginTop: 4 }}>{hint}</div>}
        </div>
      }
    >
      {action}
    </Empty>
  );
}

export function NoWorkspace() {
  const { t } = useTranslation();
  return <Result status="info" title={t("workspace.none")} subTitle={t("workspace.noneHint")} />;
}
