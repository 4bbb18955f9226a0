"""Times as coordinators read them in tables: dd/mm/yyyy HH:MM in Asia/Ho_Chi_Minh (reference.time)."""
from __future__ import annotations

from reference.time import VN  # noqa: F401 - re-exported for the command modules
from reference.time import vn_timestamp as vn_date  # noqa: F401 - the tables' name for it
