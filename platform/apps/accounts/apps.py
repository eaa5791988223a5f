from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        from apps.accounts.models import ApiKey, Workspace
        from kernel.config_cache import invalidate_on_change

        # The gateway caches API keys per process (services.authenticate_api_key): creating,
        # revoking or deleting one (or its workspace) binds the next call in every process.
        invalidate_on_change(ApiKey, Workspace)
