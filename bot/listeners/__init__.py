"""Listeners grouped by kind; each module has `register(bolt_app, bot)`."""
