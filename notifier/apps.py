from django.apps import AppConfig


class NotifierConfig(AppConfig):
    name = "notifier"
    verbose_name = "Scheduler"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from config.db_timestamps import use_psycopg_timestamptz_loader
        from notifier import signals

        connection_created.connect(use_psycopg_timestamptz_loader, dispatch_uid="psycopg-timestamptz-loader")

        signals.connect_post_migrate()
        signals.connect_beat_schedule_changes()
