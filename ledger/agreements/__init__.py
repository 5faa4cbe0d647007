"""Agreements set together: drafts, proposals, answers, history and diffs.

One blueprint (``blueprint.bp``, endpoints ``agreements.*``) whose views live
in three modules: reading and answering, writing proposals, and history.
"""

from . import history, proposals, reading
from .blueprint import bp, load_one

__all__ = ["bp", "history", "load_one", "proposals", "reading"]
