// Platform administration, model groups: several endpoints behind one model name, balanced
// by weight or by calls in flight, falling back to the next member on 429/5xx/timeout.
// The table shows each member's health as the gateway sees it now (refreshed every 10 s
// while the tab is open); a drawer creates and edits a group, a modal grants it.
import { ArrowDownOutlined, ArrowUpOutlined, DeleteOutlined, EditOutlined, MinusCircleOutlined, PlusOutlined, ReloadOutlined, TeamOutlined } from "@ant-design/icons";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Badge, Button, Card, Col, Drawer, Form, Input, InputNumber, Modal, Popconfirm, Row, Select, Space, Switch, Table, Tag, Tooltip, Typography } from "antd";
import { useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { api, call, type Schemas } from "../../api/client";
import { EmptyState, ErrorAlert, notifySuccess, QueryState } from "../../components/feedback";
import { CapabilityTags } from "../Models";

type Group = Schemas["GroupOut"];
type GroupMember = Group["members"][number];
type MemberInput = Schemas["GroupCreateIn"]["members"][number];
type Balancing = Group["balancing"];

const BALANCING: Balancing[] = ["weighted", "least_busy"];
const GROUPS_KEY = ["admin", "groups"];
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;
const REFRESH_MS = 10_000;

// The same queries (and keys) as the Endpoints and Workspaces tabs.
function useEndpoints() {
  return useQuery({ queryKey: ["admin", "endpoints"], queryFn: () => call(api.GET("/console/api/model-endpoints")) });
}

function useAllWorkspaces() {
  return useQuery({ queryKey: ["workspaces"], queryFn: () => call(api.GET("/console/api/workspaces")) });
}

/** Groups change (health) and the workspaces' model lists follow them. */
function useInvalidateGroups() {
  const client = useQueryClient();
  return () => {
    void client.invalidateQueries({ queryKey: GROUPS_KEY });
    void client.invalidateQueries({ queryKey: ["ws"] });
  };
}

interface GroupForm {
  name: string;
  display_name?: string;
  balancing: Balancing;
  cooldown_seconds: number;
  failures_to_cool_down: number;
  enabled: boolean;
  members: Partial<MemberInput>[];
}

function GroupFormBody({ editing, onDone }: { editing: Group | null; onDone: () => void }) {
  const { t } = useTranslation();
  const [form] = Form.useForm<GroupForm>();
  const endpoints = useEndpoints();
  const invalidate = useInvalidateGroups();
  const balancing = (Form.useWatch("balancing", form) ?? editing?.balancing ?? "weighted") as Balancing;
  const chosen = ((Form.useWatch("members", form) ?? []) as Partial<MemberInput>[]).map((m) => m?.endpoint);
  const save = useMutation({
    mutationFn: (values: GroupForm) => {
      const body = {
        display_name: values.display_name ?? "",
        balancing: values.balancing,
        cooldown_seconds: values.cooldown_seconds,
        failures_to_cool_down: values.failures_to_cool_down,
        enabled: values.enabled,
        members: values.members.map((m) => ({ endpoint: m.endpoint ?? "", weight: m.weight ?? 1 })),
      };
      return editing
        ? call(api.PATCH("/console/api/model-groups/{group_id}", { params: { path: { group_id: editing.id } }, body }))
        : call(api.POST("/console/api/model-groups", { body: { name: values.name, ...body } }));
    },
    meta: { silent: true },
    onSuccess: () => {
      invalidate();
      notifySuccess(t("admin.groups.saved"));
      onDone();
    },
  });
  const initial: GroupForm = editing
    ? { ...editing, members: editing.members.map((m) => ({ endpoint: m.endpoint, weight: m.weight })) }
    : { name: "", display_name: "", balancing: "weighted", cooldown_seconds: 60, failures_to_cool_down: 3, enabled: true, members: [{ weight: 1 }] };
  return (
    <Form<GroupForm> form={form} layout="vertical" initialValues={initial} onFinish={(v) => save.mutate(v)}>
      {save.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={save.error} /></div> : null}
      <Row gutter={12}>
        <Col span={12}>
          <Form.Item
            name="name"
            label={t("admin.groups.name")}
            extra={t("admin.groups.nameHint")}
            rules={[{ required: true }, { max: 100 }, { pattern: NAME_PATTERN, message: t("admin.groups.namePattern") }]}
          >
            <Input disabled={Boolean(editing)} placeholder="chat-pool" />
          </Form.Item>
        </Col>
        <Col span={12}>
          <Form.Item name="display_name" label={t("admin.groups.displayName")} rules={[{ max: 200 }]}>
            <Input />
          </Form.Item>
        </Col>
        <Col span={24}>
          <Form.Item name="balancing" label={t("admin.groups.balancing")} extra={t(`admin.groups.balancingHint.${balancing}`)} rules={[{ required: true }]}>
            <Select
              aria-label={t("admin.groups.balancing")}
              options={BALANCING.map((b) => ({ value: b, label: t(`admin.groups.balancingOption.${b}`), hint: t(`admin.groups.balancingHint.${b}`) }))}
              optionRender={(option) => (
                <div style={{ whiteSpace: "normal" }}>
                  <div>{option.label}</div>
                  <Typography.Text type="secondary" style={{ fontSize: 12 }}>{option.data.hint}</Typography.Text>
                </div>
              )}
            />
          </Form.Item>
        </Col>
        <Col span={9}>
          <Form.Item name="cooldown_seconds" label={t("admin.groups.cooldown")} extra={t("admin.groups.cooldownHint")} rules={[{ required: true }]}>
            <InputNumber min={1} max={86400} precision={0} style={{ width: "100%" }} />
          </Form.Item>
        </Col>
        <Col span={9}>
          <Form.Item name="failures_to_cool_down" label={t("admin.groups.failures")} extra={t("admin.groups.failuresHint")} rules={[{ required: true }]}>
            <InputNumber min={1} max={100} precision={0} style={{ width: "100%" }} />
          </Form.Item>
        </Col>
        <Col span={6}>
          <Form.Item name="enabled" label={t("admin.groups.enabled")} valuePropName="checked">
            <Switch />
          </Form.Item>
        </Col>
      </Row>
      <Typography.Title level={5}>{t("admin.groups.members")}</Typography.Title>
      <Typography.Paragraph type="secondary">{t("admin.groups.membersHint")}</Typography.Paragraph>
      <Form.List
        name="members"
        rules={[{ validator: (_, members?: unknown[]) => (members?.length ? Promise.resolve() : Promise.reject(new Error(t("admin.groups.needMember")))) }]}
      >
        {(fields, { add, remove, move }, { errors }) => (
          <>
            {fields.map((field, index) => (
              <Space key={field.key} align="start" style={{ display: "flex", marginBottom: 4 }} data-testid={`member-row-${index}`}>
                <Typography.Text type="secondary" style={{ display: "inline-block", width: 20, lineHeight: "32px" }}>{index + 1}.</Typography.Text>
                <Form.Item
                  name={[field.name, "endpoint"]}
                  rules={[
                    { required: true, message: t("admin.groups.pickEndpoint") },
                    { validator: (_, v?: string) => (v && chosen.filter((c) => c === v).length > 1 ? Promise.reject(new Error(t("admin.groups.endpointTwice"))) : Promise.resolve()) },
                  ]}
                  style={{ marginBottom: 8 }}
                >
                  <Select
                    showSearch
                    style={{ width: 280 }}
                    placeholder={t("admin.groups.pickEndpoint")}
                    aria-label={t("admin.groups.memberEndpoint", { n: index + 1 })}
                    loading={endpoints.isPending}
                    options={(endpoints.data ?? []).map((e) => ({
                      value: e.name,
                      label: e.name,
                      disabled: chosen.includes(e.name) && chosen[index] !== e.name,
                      capabilities: e.capabilities,
                      enabled: e.enabled,
                    }))}
                    optionRender={(option) => (
                      <Space size={4} wrap>
                        <span>{option.label}</span>
                        {!option.data.enabled && <Tag>{t("admin.endpoints.disabled")}</Tag>}
                        <CapabilityTags capabilities={option.data.capabilities} />
                      </Space>
                    )}
                  />
                </Form.Item>
                <Form.Item name={[field.name, "weight"]} rules={[{ required: true }]} style={{ marginBottom: 8 }}>
                  <InputNumber
                    min={1}
                    max={1000}
                    precision={0}
                    style={{ width: 140 }}
                    prefix={t("admin.groups.weight")}
                    aria-label={t("admin.groups.memberWeight", { n: index + 1 })}
                  />
                </Form.Item>
                <Button icon={<ArrowUpOutlined />} disabled={index === 0} onClick={() => move(index, index - 1)} aria-label={t("admin.groups.moveUp")} />
                <Button icon={<ArrowDownOutlined />} disabled={index === fields.length - 1} onClick={() => move(index, index + 1)} aria-label={t("admin.groups.moveDown")} />
                <Button icon={<MinusCircleOutlined />} disabled={fields.length === 1} onClick={() => remove(field.name)} aria-label={t("admin.groups.removeMember")} />
              </Space>
            ))}
            <Form.ErrorList errors={errors} />
            <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ weight: 1 })} style={{ marginTop: 4, marginBottom: 16 }}>
              {t("admin.groups.addMember")}
            </Button>
          </>
        )}
      </Form.List>
      <div>
        <Button type="primary" htmlType="submit" loading={save.isPending} data-testid="save-group">
          {editing ? t("admin.save") : t("common.create")}
        </Button>
      </div>
    </Form>
  );
}

/** A member's health: green healthy, orange cooling down, grey disabled or unknown; the last failure on hover. */
function HealthBadge({ member }: { member: GroupMember }) {
  const { t } = useTranslation();
  const status = member.state === "healthy" ? "success" : member.state === "cooling_down" ? "warning" : "default";
  const text = t(`admin.groups.state.${member.state}`, { seconds: member.cooling_down_seconds, defaultValue: member.state });
  const lines: ReactNode[] = [];
  if (member.state === "disabled" || member.state === "unknown") lines.push(t(`admin.groups.stateHint.${member.state}`));
  if (member.last_failure) {
    lines.push(t("admin.groups.lastFailure", { error: member.last_failure.error, at: new Date(member.last_failure.at).toLocaleString() }));
    if (member.last_failure.message) lines.push(member.last_failure.message);
  }
  if (member.recent_failures) lines.push(t("admin.groups.recentFailures", { n: member.recent_failures }));
  const badge = <Badge status={status} text={text} />;
  if (!lines.length) return badge;
  return (
    <Tooltip title={lines.map((line, i) => <div key={i}>{line}</div>)}>
      <span style={{ cursor: "help" }}>{badge}</span>
    </Tooltip>
  );
}

function MembersCell({ group }: { group: Group }) {
  const { t } = useTranslation();
  return (
    <Space orientation="vertical" size={2}>
      {group.members.map((m, i) => (
        <Space key={m.endpoint} size={8} wrap data-testid={`member-${group.name}-${m.endpoint}`}>
          <Typography.Text>
            {i + 1}. {m.endpoint}
          </Typography.Text>
          {group.balancing === "weighted" ? (
            <Typography.Text type="secondary">{t("admin.groups.weightOf", { n: m.weight })}</Typography.Text>
          ) : (
            <Typography.Text type="secondary">{t("admin.groups.inFlight", { n: m.in_flight })}</Typography.Text>
          )}
          <HealthBadge member={m} />
        </Space>
      ))}
    </Space>
  );
}

/** The group's workspaces; closing one revokes the grant after asking. */
function WorkspaceTags({ group, onRevoke }: { group: Group; onRevoke: (group: Group, slug: string) => void }) {
  const { t } = useTranslation();
  if (!group.workspaces.length) return <Typography.Text type="secondary">{t("admin.groups.noWorkspaces")}</Typography.Text>;
  return (
    <Space size={4} wrap>
      {group.workspaces.map((slug) => (
        <Tag
          key={slug}
          closable={{ "aria-label": t("admin.groups.revoke", { workspace: slug }) }}
          onClose={(e) => {
            e.preventDefault();
            onRevoke(group, slug);
          }}
        >
          {slug}
        </Tag>
      ))}
    </Space>
  );
}

function GrantModal({ group, onClose, onRevoke }: { group: Group | null; onClose: () => void; onRevoke: (group: Group, slug: string) => void }) {
  const { t } = useTranslation();
  const workspaces = useAllWorkspaces();
  const invalidate = useInvalidateGroups();
  const [slug, setSlug] = useState<string | undefined>();
  const grant = useMutation({
    mutationFn: (workspace: string) =>
      call(api.POST("/console/api/model-groups/{group_id}/grants", { params: { path: { group_id: group?.id ?? "" } }, body: { workspace } })),
    meta: { silent: true },
    onSuccess: () => {
      invalidate();
      setSlug(undefined);
    },
  });
  const close = () => {
    grant.reset();
    setSlug(undefined);
    onClose();
  };
  const granted = new Set(group?.workspaces ?? []);
  return (
    <Modal
      open={group !== null}
      title={group ? t("admin.groups.grantTitle", { name: group.name }) : ""}
      onCancel={close}
      onOk={() => slug && grant.mutate(slug)}
      okText={t("admin.groups.grantButton")}
      okButtonProps={{ disabled: !slug }}
      confirmLoading={grant.isPending}
      destroyOnHidden
    >
      {grant.error ? <div style={{ marginBottom: 12 }}><ErrorAlert error={grant.error} /></div> : null}
      <Select
        showSearch
        style={{ width: "100%", marginBottom: 16 }}
        value={slug}
        onChange={setSlug}
        placeholder={t("admin.groups.grantPick")}
        aria-label={t("admin.groups.grantPick")}
        loading={workspaces.isPending}
        options={(workspaces.data ?? []).filter((w) => !granted.has(w.slug)).map((w) => ({ value: w.slug, label: `${w.name} (${w.slug})` }))}
      />
      {group && (group.workspaces.length ? <WorkspaceTags group={group} onRevoke={onRevoke} /> : <Typography.Text type="secondary">{t("admin.groups.grantNone")}</Typography.Text>)}
    </Modal>
  );
}

export function ModelGroupsTab() {
  const { t } = useTranslation();
  const [params] = useSearchParams();
  // Health changes over time: poll while this tab is the one shown (and the page is visible).
  const visible = params.get("tab") === "groups";
  const groups = useQuery({ queryKey: GROUPS_KEY, queryFn: () => call(api.GET("/console/api/model-groups")), refetchInterval: visible ? REFRESH_MS : false });
  const invalidate = useInvalidateGroups();
  const [modal, modalHolder] = Modal.useModal();
  const [editing, setEditing] = useState<Group | null>(null);
  const [creating, setCreating] = useState(false);
  const [grantingId, setGrantingId] = useState<string | null>(null);
  const granting = (groups.data ?? []).find((g) => g.id === grantingId) ?? null;
  const remove = useMutation({
    mutationFn: (id: string) => call(api.DELETE("/console/api/model-groups/{group_id}", { params: { path: { group_id: id } } })),
    onSuccess: invalidate,
  });
  const toggle = useMutation({
    mutationFn: ({ id, enabled }: { id: string; enabled: boolean }) =>
      call(api.PATCH("/console/api/model-groups/{group_id}", { params: { path: { group_id: id } }, body: { enabled } })),
    onSuccess: invalidate,
  });
  const revoke = useMutation({
    mutationFn: ({ id, slug }: { id: string; slug: string }) =>
      call(api.DELETE("/console/api/model-groups/{group_id}/grants/{slug}", { params: { path: { group_id: id, slug } } })),
    onSuccess: invalidate,
  });
  const confirmRevoke = (group: Group, slug: string) => {
    void modal.confirm({
      title: t("admin.groups.revoke", { workspace: slug }),
      content: t("admin.groups.revokeConfirm", { name: group.name, workspace: slug }),
      okButtonProps: { danger: true },
      onOk: () => revoke.mutateAsync({ id: group.id, slug }),
    });
  };
  const add = (
    <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="add-group">
      {t("admin.groups.add")}
    </Button>
  );
  const refresh = (
    <Tooltip title={visible ? t("admin.groups.autoRefresh") : undefined}>
      <Button icon={<ReloadOutlined />} loading={groups.isFetching} onClick={() => void groups.refetch()}>
        {t("common.refresh")}
      </Button>
    </Tooltip>
  );
  return (
    <Card size="small" title={t("admin.groups.title")} extra={<Space>{refresh}{add}</Space>}>
      {modalHolder}
      <QueryState query={groups}>
        <Table<Group>
          rowKey="id"
          dataSource={groups.data ?? []}
          pagination={false}
          scroll={{ x: 1100 }}
          locale={{ emptyText: <EmptyState title={t("admin.groups.empty")} hint={t("admin.groups.emptyHint")} action={add} /> }}
          columns={[
            {
              title: t("admin.groups.name"),
              dataIndex: "name",
              render: (name: string, g) => (
                <Space orientation="vertical" size={0}>
                  <Typography.Text strong>{name}</Typography.Text>
                  {g.display_name && <Typography.Text type="secondary">{g.display_name}</Typography.Text>}
                </Space>
              ),
            },
            {
              title: t("admin.groups.balancing"),
              dataIndex: "balancing",
              render: (b: Balancing) => (
                <Tooltip title={t(`admin.groups.balancingHint.${b}`)}>
                  <Tag>{t(`admin.groups.balancingOption.${b}`, { defaultValue: b })}</Tag>
                </Tooltip>
              ),
            },
            { title: t("models.capabilities"), dataIndex: "capabilities", render: (c: string[]) => <CapabilityTags capabilities={c} /> },
            { title: t("admin.groups.members"), render: (_, g) => <MembersCell group={g} /> },
            { title: t("admin.groups.workspaces"), render: (_, g) => <WorkspaceTags group={g} onRevoke={confirmRevoke} /> },
            {
              title: t("admin.groups.enabled"),
              dataIndex: "enabled",
              render: (enabled: boolean, g) => (
                <Switch
                  size="small"
                  checked={enabled}
                  loading={toggle.isPending && toggle.variables?.id === g.id}
                  onChange={(next) => toggle.mutate({ id: g.id, enabled: next })}
                  aria-label={t("admin.groups.enabled")}
                />
              ),
            },
            {
              title: "",
              align: "right",
              render: (_, g) => (
                <Space>
                  <Button size="small" icon={<EditOutlined />} onClick={() => setEditing(g)} aria-label={t("admin.edit")} />
                  <Tooltip title={t("admin.groups.grant")}>
                    <Button size="small" icon={<TeamOutlined />} onClick={() => setGrantingId(g.id)} aria-label={t("admin.groups.grant")} />
                  </Tooltip>
                  <Popconfirm title={t("admin.groups.deleteConfirm", { name: g.name })} okButtonProps={{ danger: true }} onConfirm={() => remove.mutateAsync(g.id)}>
                    <Button size="small" danger icon={<DeleteOutlined />} aria-label={t("common.delete")} />
                  </Popconfirm>
                </Space>
              ),
            },
          ]}
        />
      </QueryState>
      <Drawer
        open={creating || editing !== null}
        onClose={() => {
          setCreating(false);
          setEditing(null);
        }}
        size={720}
        title={editing ? t("admin.groups.editTitle", { name: editing.name }) : t("admin.groups.createTitle")}
        destroyOnHidden
      >
        <GroupFormBody
          key={editing?.id ?? "new"}
          editing={editing}
          onDone={() => {
            setCreating(false);
            setEditing(null);
          }}
        />
      </Drawer>
      <GrantModal group={granting} onClose={() => setGrantingId(null)} onRevoke={confirmRevoke} />
    </Card>
  );
}
