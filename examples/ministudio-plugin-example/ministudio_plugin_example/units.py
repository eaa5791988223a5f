"""A unit converter tool: length, mass, time, volume, data size and temperature.

Every unit is a linear map onto its dimension's base unit (metre, kilogram, second, cubic
metre, byte, kelvin): ``base = value * factor + offset``. The offset is zero except for
Celsius and Fahrenheit, whose scales do not start at absolute zero, so temperatures convert
affinely and -40 °C comes out as -40 °F.

Mistakes a model can make (an unknown unit, metres to kilograms, a temperature below
absolute zero) are answered with an error result it can read, never with an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, Field

from plugins.base import PluginSettings, Tool, ToolContext, ToolResult


@dataclass(frozen=True)
class Unit:
    """One unit: its symbol, what it measures, and how it maps onto the base unit."""

    symbol: str
    dimension: str
    factor: float
    offset: float = 0.0

    def to_base(self, value: float) -> float:
        """``value`` in this unit, expressed in the dimension's base unit."""
        return value * self.factor + self.offset

    def from_base(self, value: float) -> float:
        """``value`` in the dimension's base unit, expressed in this unit."""
        return (value - self.offset) / self.factor


# (symbol, dimension, factor to the base unit, offset, aliases). Aliases are matched without
# regard to case; the symbol itself is always an alias.
_UNIT_TABLE: tuple[tuple[str, str, float, float, tuple[str, ...]], ...] = (
    # length: base metre
    ("m", "length", 1.0, 0.0, ("meter", "meters", "metre", "metres")),
    ("km", "length", 1000.0, 0.0, ("kilometer", "kilometers", "kilometre", "kilometres")),
    ("cm", "length", 0.01, 0.0, ("centimeter", "centimeters", "centimetre", "centimetres")),
    ("mm", "length", 0.001, 0.0, ("millimeter", "millimeters", "millimetre", "millimetres")),
    ("mi", "length", 1609.344, 0.0, ("mile", "miles")),
    ("yd", "length", 0.9144, 0.0, ("yard", "yards")),
    ("ft", "length", 0.3048, 0.0, ("foot", "feet", "'")),
    ("in", "length", 0.0254, 0.0, ("inch", "inches", '"')),
    # mass: base kilogram
    ("kg", "mass", 1.0, 0.0, ("kilogram", "kilograms", "kilo", "kilos")),
    ("g", "mass", 0.001, 0.0, ("gram", "grams", "gramme", "grammes")),
    ("mg", "mass", 1e-6, 0.0, ("milligram", "milligrams")),
    ("t", "mass", 1000.0, 0.0, ("tonne", "tonnes", "metric ton", "metric tons")),
    ("lb", "mass", 0.45359237, 0.0, ("lbs", "pound", "pounds")),
    ("oz", "mass", 0.028349523125, 0.0, ("ounce", "ounces")),
    # time: base second
    ("s", "time", 1.0, 0.0, ("sec", "secs", "second", "seconds")),
    ("min", "time", 60.0, 0.0, ("mins", "minute", "minutes")),
    ("h", "time", 3600.0, 0.0, ("hr", "hrs", "hour", "hours")),
    ("d", "time", 86400.0, 0.0, ("day", "days")),
    # volume: base cubic metre
    ("m3", "volume", 1.0, 0.0, ("m³", "m^3", "cubic meter", "cubic meters", "cubic metre")),
    ("l", "volume", 0.001, 0.0, ("liter", "liters", "litre", "litres")),
    ("ml", "volume", 1e-6, 0.0, ("milliliter", "milliliters", "millilitre", "millilitres")),
    ("gal", "volume", 0.003785411784, 0.0, ("gallon", "gallons", "us gal", "us gallon")),
    # data size: base byte; KB..TB are decimal (SI), KiB..GiB binary (IEC)
    ("B", "data size", 1.0, 0.0, ("byte", "bytes")),
    ("KB", "data size", 1e3, 0.0, ("kilobyte", "kilobytes")),
    ("MB", "data size", 1e6, 0.0, ("megabyte", "megabytes")),
    ("GB", "data size", 1e9, 0.0, ("gigabyte", "gigabytes")),
    ("TB", "data size", 1e12, 0.0, ("terabyte", "terabytes")),
    ("KiB", "data size", 1024.0, 0.0, ("kibibyte", "kibibytes")),
    ("MiB", "data size", 1024.0**2, 0.0, ("mebibyte", "mebibytes")),
    ("GiB", "data size", 1024.0**3, 0.0, ("gibibyte", "gibibytes")),
    # temperature: base kelvin, affine
    ("°C", "temperature", 1.0, 273.15, ("c", "degc", "deg c", "celsius", "centigrade")),
    ("°F", "temperature", 5 / 9, 459.67 * 5 / 9, ("f", "degf", "deg f", "fahrenheit")),
    ("K", "temperature", 1.0, 0.0, ("kelvin", "kelvins")),
)

UNITS: dict[str, Unit] = {}
"""Every accepted spelling, lower-cased, to its unit."""

for _symbol, _dimension, _factor, _offset, _aliases in _UNIT_TABLE:
    _unit = Unit(_symbol, _dimension, _factor, _offset)
    for _alias in (_symbol, *_aliases):
        if _alias.lower() in UNITS:  # pragma: no cover - guards the table above
            raise RuntimeError(f"unit alias {_alias!r} is defined twice")
        UNITS[_alias.lower()] = _unit


def _known_units() -> str:
    """The unit symbols by dimension, for error messages."""
    by_dimension: dict[str, list[str]] = {}
    for symbol, dimension, *_ in _UNIT_TABLE:
        by_dimension.setdefault(dimension, []).append(symbol)
    return "; ".join(f"{dim}: {', '.join(symbols)}" for dim, symbols in by_dimension.items())


def find_unit(name: str) -> Unit | None:
    """The unit called ``name`` (symbol or alias, any case), or None."""
    return UNITS.get(" ".join(name.split()).lower())


def format_number(value: float) -> str:
    """``value`` written out in full, as short as it reads back: 1000.0 → "1000",
    1e-07 → "0.0000001", 2.54 → "2.54" (never "2.5399999999999996" or "1e-07")."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


class ConvertArguments(BaseModel):
    """What to convert."""

    value: float = Field(description="The quantity to convert, e.g. 12.5.", allow_inf_nan=False)
    from_unit: str = Field(
        min_length=1,
        max_length=40,
        description="The unit of value: a symbol or a name, e.g. 'km', 'lb', '°F', 'MiB'.",
    )
    to_unit: str = Field(
        min_length=1,
        max_length=40,
        description="The unit wanted, of the same kind as from_unit, e.g. 'mi', 'kg', '°C', 'MB'.",
    )


class UnitConverterSettings(PluginSettings):
    """Per-workspace settings of the unit converter."""

    precision: int = Field(
        6,
        ge=0,
        le=15,
        description="Decimal places the result is rounded to (0 to 15).",
    )


class UnitConverter(Tool):
    """Converts a value between units of one kind: length, mass, time, volume, data size
    and temperature."""

    display_name = "Unit converter"
    description = (
        "Converts a value between units of the same kind: length (m, km, cm, mm, mi, yd, ft, "
        "in), mass (kg, g, mg, t, lb, oz), time (s, min, h, d), volume (l, ml, m3, US gal), "
        "data size (B, KB, MB, GB, TB, KiB, MiB, GiB) and temperature (°C, °F, K)."
    )
    Arguments = ConvertArguments
    Settings = UnitConverterSettings
    timeout_seconds = 2.0
    enabled_by_default = False

    def invoke(self, arguments: ConvertArguments, context: ToolContext) -> ToolResult:
        """Convert ``arguments.value`` and round it to the workspace's ``precision``.

        Returns an error result naming the units when one is unknown, when they measure
        different things, when a temperature is below absolute zero, or when the result
        does not fit in a float.
        """
        source = find_unit(arguments.from_unit)
        target = find_unit(arguments.to_unit)
        if source is None or target is None:
            unknown = [
                f"'{name}'"
                for name, unit in ((arguments.from_unit, source), (arguments.to_unit, target))
                if unit is None
            ]
            return ToolResult(
                content=f"Unknown unit {' and '.join(unknown)}. Known units: {_known_units()}.",
                is_error=True,
            )
        if source.dimension != target.dimension:
            return ToolResult(
                content=(
                    f"Cannot convert {source.symbol} ({source.dimension}) to {target.symbol} "
                    f"({target.dimension}): they measure different things."
                ),
                is_error=True,
            )
        base = source.to_base(arguments.value)
        if source.dimension == "temperature" and base < 0:
            return ToolResult(
                content=(
                    f"{format_number(arguments.value)} {source.symbol} is below absolute "
                    "zero (0 K, -273.15 °C, -459.67 °F)."
                ),
                is_error=True,
            )
        converted = target.from_base(base)
        if not math.isfinite(converted):
            return ToolResult(
                content=f"The result of converting to {target.symbol} is too large.",
                is_error=True,
            )
        precision = getattr(context.settings, "precision", UnitConverterSettings().precision)
        rounded = round(converted, precision) + 0.0  # + 0.0 turns -0.0 into 0.0
        return ToolResult(
            content=f"{format_number(rounded)} {target.symbol}",
            data={"value": rounded, "unit": target.symbol},
        )
