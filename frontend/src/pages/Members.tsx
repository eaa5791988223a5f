// Members of the workspace: list; admins add (an unknown e-mail with a password creates the
// account), change roles and remove.
import { PlusOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Button, Card, Form, Input, Modal, Popconfirm, Select, Table, Tag } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, call, type Schemas } from "../api/client";
import { EmptyState, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { useWorkspace, useWsKey, type Role } from "../session/workspace";

type Member = Schemas["MemberOut"];
const ROLES: Role[] = ["admin", "developer", "viewer"];

interface AddForm {
  email: string;
  name?: string;
  role: Role;
  password?: string;
}

export function MembersPage() {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const { can, me } = useWorkspace();
  const [adding, setAdding] = useState(false);
  const [form] = Form.useForm<AddForm>();
  const members = useQuery({ queryKey: wsKey("members"), queryFn: () => call(api.GET("/console/api/members")) });
  const refresh = () => client.invalidateQueries({ queryKey: wsKey("members") });
  const add = useMutation({
    mutationFn: (v: AddForm) => call(api.POST("/console/api/members", { body: { email: v.email, name: v.name ?? "", role: v.role, password: v.password || null } })),
    onSuccess: () => {
      setAdding(false);
      form.resetFields();
      void refresh();
    },
  });
  const changeRole = useMutation({
    mutationFn: ({ id, role }: { id: string; role: Role }) => call(api.PATCH("/console/api/members/{member_id}", { params: { path: { member_id: id } }, body: { role } })),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/members/{member_id}", { params: { path: { member_id: id } } })),
    onSuccess: refresh,
  });
  const manage = can("manageMembers");
  const roleOptions = ROLES.map((r) => ({ value: r, label: t(`roles.${r}`) }));
  return (
    <>
      <PageHeader
        title={t("nav.members")}
        subtitle={t("members.subtitle")}
        extra={
          manage ? (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)}>
              {t("members.add")}
            </Button>
          ) : null
        }
      />
      <Card size="small">
        <QueryState query={members}>
          <Table<Member>
            rowKey="id"
            dataSource={members.data ?? []}
            pagination={{ pageSize: 50, hideOnSinglePage: true }}
            scroll={{ x: 700 }}
            locale={{ emptyText: <EmptyState title={t("members.empty")} /> }}
            columns={[
              { title: t("members.email"), render: (_, m) => <>{m.user.email}{m.user.email === me.user?.email && <Tag style={{ marginLeft: 8 }}>{t("members.you")}</Tag>}</> },
              { title: t("members.name"), render: (_, m) => m.user.name || "—" },
              {
                title: t("members.role"),
                dataIndex: "role",
                render: (role: Role, m) =>
                  manage ? (
                    <Select size="small" value={role} options={roleOptions} style={{ width: 130 }} onChange={(next: Role) => changeRole.mutate({ id: m.id, role: next })} aria-label={t("members.role")} />
                  ) : (
                    <Tag>{t(`roles.${role}`)}</Tag>
                  ),
              },
              { title: t("members.since"), dataIndex: "created_at", render: (v: string) => new Date(v).toLocaleDateString() },
              {
                title: "",
                align: "right",
                render: (_, m) =>
                  manage ? (
                    <Popconfirm title={t("members.removeConfirm", { email: m.user.email })} okButtonProps={{ danger: true }} onConfirm={() => remove.mutateAsync(m.id)}>
                      <Button size="small" danger type="text">
                        {t("members.remove")}
                      </Button>
                    </Popconfirm>
                  ) : null,
              },
            ]}
          />
        </QueryState>
      </Card>
      <Modal open={adding} title={t("members.add")} onCancel={() => setAdding(false)} onOk={() => form.submit()} okText={t("members.add")} confirmLoading={add.isPending} destroyOnHidden>
        <Form<AddForm> form={form} layout="vertical" initialValues={{ role: "developer" }} onFinish={(v) => add.mutate(v)}>
          <Form.Item name="email" label={t("members.email")} rules={[{ required: true, type: "email", message: t("signIn.emailRequired") }]}>
            <Input autoFocus />
          </Form.Item>
          <Form.Item name="role" label={t("members.role")}>
            <Select options={roleOptions} />
          </Form.Item>
          <Form.Item name="name" label={t("members.name")}>
            <Input />
          </Form.Item>
          <Form.Item name="password" label={t("members.password")} extra={t("members.passwordHint")}>
            <Input.Password autoComplete="new-password" />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}
