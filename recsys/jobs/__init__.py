"""The jobs around the state and the store: the cron rebuild (``rebuild``), its one switch
(``publish``), and the store's withheld set kept in step with the state (``exclusion_sync``).
"""

__all__ = ["exclusion_sync", "publish", "rebuild"]
