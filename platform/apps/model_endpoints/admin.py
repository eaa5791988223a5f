from django import forms
from django.contrib import admin, messages

from apps.model_endpoints import services
from apps.model_endpoints.models import EndpointCapability, EndpointGrant, ModelEndpoint
from apps.plugins.plugin_settings import masked, store_settings
from apps.plugins.services import provider_schema
from kernel.errors import ApiError


class ModelEndpointForm(forms.ModelForm):
    """Provider settings are validated by the provider's model and their secrets encrypted,
    exactly as through the console API."""

    capabilities = forms.MultipleChoiceField(
        choices=EndpointCapability.choices, widget=forms.CheckboxSelectMultiple
    )
    provider_settings = forms.JSONField(
        required=False,
        initial=dict,
        help_text='Base URL, API key... Stored secrets read "***"; leave them so to keep them.',
    )

    class Meta:
        model = ModelEndpoint
        fields = [
            "name",
            "display_name",
            "provider",
            "upstream_model",
            "capabilities",
            "context_window",
            "embedding_dimension",
            "default_parameters",
            "price_input_per_1k",
            "price_output_per_1k",
            "enabled",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["provider_settings"] = masked(
                services.stored_settings(self.instance), provider_schema(self.instance.provider)
            )

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        try:
            plugin_class = services.provider_class(data["provider"])
            previous = services.stored_settings(self.instance) if self.instance.pk else None
            self.stored = store_settings(
                plugin_class.Settings, data.get("provider_settings") or {}, previous
            )
            data["capabilities"] = services.check_capabilities(plugin_class, data["capabilities"])
        except ApiError as exc:
            raise forms.ValidationError(exc.message) from None
        return data


class GrantInline(admin.TabularInline):
    model = EndpointGrant
    extra = 0
    fields = ["workspace", "granted_at", "granted_by"]
    readonly_fields = ["granted_at", "granted_by"]
    autocomplete_fields = ["workspace"]


@admin.register(ModelEndpoint)
class ModelEndpointAdmin(admin.ModelAdmin):
    form = ModelEndpointForm
    list_display = [
        "name",
        "provider",
        "upstream_model",
        "capability_list",
        "enabled",
        "updated_at",
    ]
    list_filter = ["enabled", "provider"]
    search_fields = ["name", "display_name", "upstream_model"]
    inlines = [GrantInline]
    actions = ["test_connection"]

    @admin.display(description="capabilities")
    def capability_list(self, obj: ModelEndpoint) -> str:
        return ", ".join(obj.capabilities)

    def save_model(self, request, obj: ModelEndpoint, form, change) -> None:
        obj.settings, obj.encrypted_secrets = form.stored.plain, form.stored.encrypted_secrets
        super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change) -> None:
        for grant in formset.save(commit=False):
            grant.granted_by = grant.granted_by or request.user
            grant.save()
        for removed in formset.deleted_objects:
            removed.delete()

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset) -> None:
        for endpoint in queryset:
            result = services.test_connection(endpoint)
            level = messages.SUCCESS if result.ok else messages.ERROR
            self.message_user(
                request, f"{endpoint.name}: {result.detail} in {result.latency_ms} ms", level
            )
