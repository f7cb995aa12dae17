"""tgo_async: asyncio client for the TGO Business messaging API."""
