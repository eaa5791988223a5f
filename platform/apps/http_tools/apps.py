from django.apps import AppConfig


class HttpToolsConfig(AppConfig):
    name = "apps.http_tools"
    label = "http_tools"
    verbose_name = "Custom HTTP tools"
