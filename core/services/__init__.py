"""Use cases: one unit of work each, `now` passed in, the audit trail written.

One module per family of moves; import a use case from its module
(`from core.services.review import approve`). This package imports none of them, so a
command loads only the services it runs.
"""
