"""Listeners grouped by kind; each module has `register(app)`, and each listener finds
the Bot on its request's context (`bot.context.bot_of`)."""
