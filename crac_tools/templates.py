"""Commented starter project files written by ``crac init`` (and used by the demo).

Examples
--------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp()) / "proj"
>>> sorted(str(p.relative_to(d)) for p in init_project(d))
['crac.yaml', 'stations/station1.yaml']
"""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError
from .fsutil import atomic_write_text

PROJECT_YAML = """\
# crac_tools project file. Paths are relative to this file.
project:
  name: {name}                 # short id, used in product ids and the catalog
  title: {title}
  summary: Station records collected, assembled and archived with crac_tools.
  pi: {pi}                     # principal investigator (ACDD creator_name)
  pi_email: {pi_email}
  pi_url: {pi_url}             # web page of the PI or project (ACDD creator_url)
  publisher_name: {institution}
  publisher_url: {pi_url}
  institution: {institution}
  license: CC-BY-4.0
  keywords: [meteorology, surface station]

archive: archive               # where raw copies, products, mirrors, catalog and quick-looks go
stations_dir: stations         # one YAML file per station (or station product)
period: day                    # accumulation period: hour | day | week | month (stations may override)

naming:
  # fields: station, product, period, start, end (datetimes), version
  template: "{{station}}_{{product}}_{{start:%Y%m%dT%H%M%S}}_v{{version}}.nc"

products:
  compression: none            # none (fast, readable everywhere) | zlib (about 2.4x smaller, ~6x slower writes)
  complevel: 1
  version: 1                   # product version, recorded in every file
  mirror: true                 # keep a zarr mirror per station for fast analysis

dask:
  scheduler: null              # e.g. tcp://10.0.0.5:8786 to use an existing cluster; null = local processes
  n_workers: null              # local workers (default: number of cores)
  inline_below_mb: 64          # smaller runs are built in this process (a cluster costs more); 0 = never
"""

STATION_YAML = """\
# One station (or one table/product of a station).
id: {id}                       # letters, digits, '_', '.', '-'
name: {name}
location: {{lat: {lat}, lon: {lon}, alt: {alt}}}   # degrees north/east, metres above sea level
instruments:
  - {{name: logger, model: CR1000X, serial: "0000"}}
product: {product}             # product name: the catalog entry is <id>_<product>
format: toa5                   # leave out to detect the format from the file content
interval: {interval}           # logger record interval, e.g. 1s, 1min, 30min (inferred when left out)
# period: day                  # overrides the project's period
sources:                       # local or mounted folders (glob patterns; ** recurses)
  - {source}
columns:                       # per-column metadata; several entries with from/until when a program changes
  AirTC_Avg:
    standard_name: air_temperature
    units: degC                # the file's own unit string is kept as source_units
    long_name: air temperature, averaged
    valid_min: -60
    valid_max: 60
  # Rain_mm_Tot:
  #   - {{units: mm, standard_name: thickness_of_rainfall_amount, until: 2024-05-01}}
  #   - {{units: mm, missing_values: [-6999], from: 2024-05-01}}
"""


def project_yaml(name: str = "myproject", title: str = "My station network", pi: str = "Jane Doe",
                 pi_email: str = "jane.doe@example.org", institution: str = "Example Institute",
                 pi_url: str = "https://example.org/myproject") -> str:
    """Text of a commented ``crac.yaml``."""
    return PROJECT_YAML.format(name=name, title=title, pi=pi, pi_email=pi_email, institution=institution,
                               pi_url=pi_url)


def station_yaml(id: str = "station1", name: str = "Station 1", lat: float = 0.0, lon: float = 0.0,
                 alt: float = 0.0, product: str = "met", interval: str = "1min",
                 source: str = "incoming/station1/*.dat") -> str:
    """Text of a commented station YAML."""
    return STATION_YAML.format(id=id, name=name, lat=lat, lon=lon, alt=alt, product=product,
                               interval=interval, source=source)


def init_project(directory: str | Path, force: bool = False) -> list[Path]:
    """Write a commented starter project (``crac.yaml`` and one station) into ``directory``.

    Raises
    ------
    ConfigError
        When ``crac.yaml`` or ``stations/station1.yaml`` already exists there and ``force`` is false.
    """
    d = Path(directory)
    target = d / "crac.yaml"
    station = d / "stations" / "station1.yaml"
    for f in (target, station):
        if f.exists() and not force:
            raise ConfigError(f, "already exists; not overwriting (use --force)")
    written = [atomic_write_text(target, project_yaml()), atomic_write_text(station, station_yaml())]
    (d / "incoming" / "station1").mkdir(parents=True, exist_ok=True)
    return written
