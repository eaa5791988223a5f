// Members of the workspace: list; admins invite people by e-mail (the link is e-mailed when
// the platform has e-mail, otherwise shown once to copy), see and revoke pending
// invitations, change roles and remove members. Invitees accept on AcceptInvitation.tsx.
import { MailOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Alert, Button, Card, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from "antd";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, call, type Schemas } from "../api/client";
import { CopyButton } from "../components/CopyButton";
import { EmptyState, QueryState } from "../components/feedback";
import { PageHeader } from "../components/PageHeader";
import { useWorkspace, useWsKey, type Role } from "../session/workspace";

type Member = Schemas["MemberOut"];
type Invitation = Schemas["InvitationOut"];
type CreatedInvitation = Schemas["InvitationCreatedOut"];
const ROLES: Role[] = ["admin", "developer", "viewer"];

interface InviteForm {
  email: string;
  role: Role;
}

/** After inviting: the link to pass on (shown this once), or word that it was e-mailed. */
function InvitationSent({ created, onClose }: { created: CreatedInvitation | null; onClose: () => void }) {
  const { t } = useTranslation();
  if (!created) return null;
  return (
    <Modal open title={t("members.invited.title", { email: created.email })} onCancel={onClose} footer={<Button type="primary" onClick={onClose}>{t("members.invited.done")}</Button>} maskClosable={false}>
      {created.accept_url ? (
        <>
          <Alert type="warning" showIcon message={t("members.invited.copyLink")} style={{ marginBottom: 12 }} />
          <Space.Compact style={{ width: "100%" }}>
            <Input readOnly value={created.accept_url} data-testid="invitation-link" style={{ fontFamily: "monospace" }} />
            <CopyButton text={created.accept_url} label={t("common.copy")} />
          </Space.Compact>
        </>
      ) : (
        <Alert type="success" showIcon message={t("members.invited.emailed", { email: created.email })} />
      )}
      <Typography.Paragraph type="secondary" style={{ marginTop: 12, marginBottom: 0 }}>
        {t("members.invited.expires", { date: new Date(created.expires_at).toLocaleString() })}
      </Typography.Paragraph>
    </Modal>
  );
}

function PendingInvitations() {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const invitations = useQuery({ queryKey: wsKey("invitations"), queryFn: () => call(api.GET("/console/api/invitations")) });
  const revoke = useMutation({
    mutationFn: (id: string) => call(api.POST("/console/api/invitations/{invitation_id}/revoke", { params: { path: { invitation_id: id } } })),
    onSuccess: () => client.invalidateQueries({ queryKey: wsKey("invitations") }),
  });
  return (
    <Card size="small" title={t("members.pending.title")} style={{ marginTop: 16 }}>
      <QueryState query={invitations}>
        <Table<Invitation>
          rowKey="id"
          size="small"
          dataSource={invitations.data ?? []}
          pagination={{ pageSize: 20, hideOnSinglePage: true }}
          scroll={{ x: 700 }}
          locale={{ emptyText: <EmptyState title={t("members.pending.empty")} /> }}
          columns={[
            { title: t("members.email"), dataIndex: "email" },
            { title: t("members.role"), dataIndex: "role", render: (role: Role) => <Tag>{t(`roles.${role}`)}</Tag> },
            {
              title: t("members.pending.status"),
              dataIndex: "status",
              render: (status: string) => <Tag color={status === "expired" ? "orange" : "blue"}>{t(`members.pending.statuses.${status}`, { defaultValue: status })}</Tag>,
            },
            { title: t("members.pending.invitedBy"), dataIndex: "invited_by", render: (v: string | null) => v ?? "—" },
            { title: t("members.pending.expires"), dataIndex: "expires_at", render: (v: string) => new Date(v).toLocaleDateString() },
            {
              title: "",
              align: "right",
              render: (_, invitation) => (
                <Popconfirm title={t("members.pending.revokeConfirm", { email: invitation.email })} okButtonProps={{ danger: true }} onConfirm={() => revoke.mutateAsync(invitation.id)}>
                  <Button size="small" danger type="text">
                    {t("members.pending.revoke")}
                  </Button>
                </Popconfirm>
              ),
            },
          ]}
        />
      </QueryState>
    </Card>
  );
}

export function MembersPage() {
  const { t } = useTranslation();
  const wsKey = useWsKey();
  const client = useQueryClient();
  const { can, me } = useWorkspace();
  const [inviting, setInviting] = useState(false);
  const [created, setCreated] = useState<CreatedInvitation | null>(null);
  const [form] = Form.useForm<InviteForm>();
  const members = useQuery({ queryKey: wsKey("members"), queryFn: () => call(api.GET("/console/api/members")) });
  const refresh = () => client.invalidateQueries({ queryKey: wsKey("members") });
  const invite = useMutation({
    mutationFn: (v: InviteForm) => call(api.POST("/console/api/invitations", { body: { email: v.email, role: v.role } })),
    onSuccess: (invitation) => {
      setInviting(false);
      form.resetFields();
      setCreated(invitation);
      void client.invalidateQueries({ queryKey: wsKey("invitations") });
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
            <Button type="primary" icon={<MailOutlined />} onClick={() => setInviting(true)}>
              {t("members.invite")}
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
      {manage && <PendingInvitations />}
      <Modal open={inviting} title={t("members.invite")} onCancel={() => setInviting(false)} onOk={() => form.submit()} okText={t("members.inviteSubmit")} confirmLoading={invite.isPending} destroyOnHidden>
        <Typography.Paragraph type="secondary">{t("members.inviteHint")}</Typography.Paragraph>
        <Form<InviteForm> form={form} layout="vertical" initialValues={{ role: "developer" }} onFinish={(v) => invite.mutate(v)}>
          <Form.Item name="email" label={t("members.email")} rules={[{ required: true, type: "email", message: t("signIn.emailRequired") }]}>
            <Input autoFocus />
          </Form.Item>
          <Form.Item name="role" label={t("members.role")}>
            <Select options={roleOptions} />
          </Form.Item>
        </Form>
      </Modal>
      <InvitationSent created={created} onClose={() => setCreated(null)} />
    </>
  );
}
