"""The ``Cortex`` client: its statement funnel, inference and batch verbs, and the
reconciliation of lost answers."""
