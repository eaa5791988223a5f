from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "apps.applications"
    # The database keeps the first release's label (tables agents_*, its migration history),
    # so an existing install upgrades without renaming tables.
    label = "agents"
    verbose_name = "Apps"
