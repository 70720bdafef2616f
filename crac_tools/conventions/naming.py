"""Product file names from the project's naming template.

Fields: ``station``, ``product``, ``period``, ``start`` and ``end`` (datetimes, so ``{start:%Y%j}`` works),
``version``. The name depends only on the station, product and period start, so a rebuilt period replaces
its own file.

Examples
--------
>>> import pandas as pd
>>> product_name("{station}_{product}_{start:%Y%m%d}_v{version}.nc", "alpha", "met", "day",
...              pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02"), 1)
'alpha_met_20240301_v1.nc'
"""

from __future__ import annotations

import pandas as pd


def product_name(template: str, station: str, product: str, period: str, start: pd.Timestamp,
                 end: pd.Timestamp, version: int) -> str:
    """Format a product file name from ``template``."""
    return template.format(station=station, product=product, period=period,
                           start=pd.Timestamp(start).to_pydatetime(), end=pd.Timestamp(end).to_pydatetime(),
                           version=version)
