from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    name = "exchange"
    verbose_name = "Exchange with departments"

    def ready(self):
        from exchange import checks  # registers the system checks

        checks.refuse_unverified_exchange()
