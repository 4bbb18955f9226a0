"""Machine mail and guards: bounces, complaint and receipt reports, auto-replies, lists and newsletters,
junk, and the bot's own mail coming back. Whatever is decided here is never answered (RFC 3834)."""
