from django.apps import AppConfig


class NotifierConfig(AppConfig):
    name = "notifier"
    verbose_name = "Scheduler"

    def ready(self) -> None:
        from notifier import signals

        signals.connect_post_migrate()
        signals.connect_beat_schedule_changes()
