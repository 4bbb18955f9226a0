"""Reference data read from config/: the roster of agencies by year, the campaigns and the official outline,
and the text folding they are matched with. No database, no mail."""
