from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from apps.accounts.models import ApiKey, Invitation, Membership, User, Workspace
from apps.accounts.services import revoke_api_key, revoke_invitation
from kernel.errors import ApiError


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email", "name")


class UserEditForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "name", "is_staff", "is_active", "date_joined", "last_login"]
    list_filter = ["is_staff", "is_active"]
    search_fields = ["email", "name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]}),
    ]
    filter_horizontal: list[str] = []


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["id", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__email", "user__name", "workspace__slug", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]
    list_select_related = ["user", "workspace"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created in the console API (the secret is shown once there); here they are
    inspected and revoked."""

    list_display = [
        "name",
        "masked",
        "workspace",
        "created_by",
        "status",
        "created_at",
        "expires_at",
        "last_used_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "workspace"]
    search_fields = ["name", "prefix", "workspace__slug", "created_by__email"]
    list_select_related = ["workspace", "created_by"]
    fields = [
        "name",
        "masked",
        "workspace",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    readonly_fields = [
        "masked",
        "workspace",
        "created_by",
        "created_at",
        "revoked_at",
        "last_used_at",
    ]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset) -> None:
        for api_key in queryset:
            revoke_api_key(api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made in the console (their link is shown or e-mailed once there);
    here they are inspected and revoked. The token's hash is never shown."""

    list_display = ["email", "workspace", "role", "status", "invited_by", "sent_at", "expires_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["email", "workspace__slug", "invited_by__email"]
    list_select_related = ["workspace", "invited_by"]
    fields = [
        "email",
        "workspace",
        "role",
        "status",
        "invited_by",
        "created_at",
        "sent_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.action(description="Revoke selected invitations")
    def revoke(self, request, queryset) -> None:
        revoked = 0
        for invitation in queryset:
            try:
                revoke_invitation(invitation)
                revoked += 1
            except ApiError as exc:
                self.message_user(request, f"{invitation.email}: {exc.message}", messages.WARNING)
        self.message_user(request, f"Revoked {revoked} invitation(s).", messages.SUCCESS)
