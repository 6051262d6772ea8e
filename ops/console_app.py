"""Django's admin app, with the operators' console (ops.console.ConsoleSite) as its default site.

A module of its own: an app config is imported before the models are ready, the site only after."""

from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    default_site = "ops.console.ConsoleSite"
