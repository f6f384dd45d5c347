"""Events the market-data service emits (data fixed by contracts/marketdata.*.schema.json)."""

from __future__ import annotations

from datetime import datetime

from epv_common.events.envelope import CloudEvent, new_event

SOURCE = "marketdata"


def refreshed(*, symbol: str, data_type: str, provider: str, fetched_at: datetime,
              actor_id: str | None) -> CloudEvent:
    return new_event("marketdata.refreshed", source=SOURCE, subject=symbol, actor_id=actor_id,
                     data={"symbol": symbol, "type": data_type, "provider": provider,
                           "fetched_at": fetched_at.isoformat().replace("+00:00", "Z")})
