"""Versioned schema migrations, applied in order by ``flask db upgrade``.

Each ``NNNN_name.py`` defines ``up(migrator, db)`` with frozen copies of the
tables it creates, independent of today's models.
"""
