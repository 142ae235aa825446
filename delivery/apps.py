from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "delivery"

    def ready(self) -> None:
        from delivery import signals  # noqa: F401  (connects receivers)
        from delivery.channels import channels_register

        channels_register()  # the subscriptions app reads the channels from its registry
