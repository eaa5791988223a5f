// The skeleton of a list page (apps, knowledge bases, API keys): a title bar with the
// create button, the table in a card (loading and errors from its query, 20 rows a page),
// an empty state that offers the same button, and the create dialog it opens.
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { Button, Card, Popconfirm, Space, Table, Typography, type TableProps } from "antd";
import type { ColumnType } from "antd/es/table";
import { useState, type ReactNode } from "react";
import { Link } from "react-router";
import { EmptyState, QueryState } from "./feedback";
import { PageHeader } from "./PageHeader";

export interface ListPageProps<T> {
  title: ReactNode;
  subtitle?: ReactNode;
  /** The list's query: its rows, or its loading state and error. */
  query: { isPending: boolean; error: unknown; data?: T[] | undefined };
  /** The create button and the dialog it opens; absent where the role may not create. */
  create?: { label: string; dialog: (open: boolean, close: () => void) => ReactNode } | null;
  /** Shown in the table when there is no row, with the create button under it. */
  empty: { title: string; hint?: ReactNode };
  rowKey: TableProps<T>["rowKey"];
  columns: TableProps<T>["columns"];
  scrollX: number;
  /** Rendered after the card (other dialogs). */
  children?: ReactNode;
  /** More buttons in the title bar, before the create button. */
  actions?: ReactNode;
}

export function ListPage<T extends object>({ title, subtitle, query, create, empty, rowKey, columns, scrollX, children, actions }: ListPageProps<T>) {
  const [creating, setCreating] = useState(false);
  const createButton = create ? (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
      {create.label}
    </Button>
  ) : null;
  return (
    <>
      <PageHeader
        title={title}
        subtitle={subtitle}
        extra={
          actions ? (
            <Space>
              {actions}
              {createButton}
            </Space>
          ) : (
            createButton
          )
        }
      />
      <Card size="small">
        <QueryState query={query}>
          <Table<T>
            rowKey={rowKey}
            dataSource={query.data ?? []}
            pagination={{ pageSize: 20, hideOnSinglePage: true }}
            scroll={{ x: scrollX }}
            locale={{ emptyText: <EmptyState title={empty.title} hint={empty.hint} action={createButton} /> }}
            columns={columns}
          />
        </QueryState>
      </Card>
      {create?.dialog(creating, () => setCreating(false))}
      {children}
    </>
  );
}

interface Named {
  id: string;
  name: string;
  description?: string | null;
}

/** The name column: a link to the row's page, its description under it. */
export function nameColumn<T extends Named>(title: string, href: (row: T) => string): ColumnType<T> {
  return {
    title,
    dataIndex: "name",
    render: (name: string, row) => (
      <Space direction="vertical" size={0}>
        <Link to={href(row)}>{name}</Link>
        {row.description && <Typography.Text type="secondary" ellipsis style={{ maxWidth: 360 }}>{row.description}</Typography.Text>}
      </Space>
    ),
  };
}

/** When the row last changed, in local time. */
export function updatedColumn<T>(title: string): ColumnType<T> {
  return { title, dataIndex: "updated_at", render: (v: string) => new Date(v).toLocaleString() };
}

/** The last column: a delete button behind a confirmation, where `allowed`. */
export function deleteColumn<T extends Named>(props: { allowed: boolean; confirm: (row: T) => string; label: string; onDelete: (row: T) => Promise<unknown> }): ColumnType<T> {
  return {
    title: "",
    align: "right",
    render: (_, row) =>
      props.allowed ? (
        <Popconfirm title={props.confirm(row)} okButtonProps={{ danger: true }} onConfirm={() => props.onDelete(row)}>
          <Button size="small" type="text" danger icon={<DeleteOutlined />} aria-label={props.label} />
        </Popconfirm>
      ) : null,
  };
}
