"""The unit converter against the plugin contract, as the platform would call it."""

import pytest
from ministudio_plugin_example.units import (
    ConvertArguments,
    UnitConverter,
    UnitConverterSettings,
    find_unit,
)
from pydantic import ValidationError

from plugins.base import ToolContext, ToolResult


def convert(value, from_unit, to_unit, **settings) -> ToolResult:
    """Validate the arguments and invoke the tool, as the platform does."""
    arguments = UnitConverter.Arguments.model_validate(
        {"value": value, "from_unit": from_unit, "to_unit": to_unit}
    )
    context = ToolContext(settings=UnitConverter.Settings(**settings), workspace="acme")
    return UnitConverter().invoke(arguments, context)


def converted(value, from_unit, to_unit, **settings) -> float:
    result = convert(value, from_unit, to_unit, **settings)
    assert not result.is_error, result.content
    return result.data["value"]


# --- the contract --------------------------------------------------------------------------


def test_check_contract_passes():
    UnitConverter.check_contract()


def test_declarations():
    assert UnitConverter.kind == "tool"
    assert UnitConverter.display_name == "Unit converter"
    assert UnitConverter.enabled_by_default is False
    assert UnitConverter.timeout_seconds == 2
    assert UnitConverter.Arguments is ConvertArguments
    assert UnitConverter.Settings is UnitConverterSettings


def test_parameters_schema_names_the_three_arguments():
    schema = UnitConverter.parameters_schema()
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"value", "from_unit", "to_unit"}
    assert set(schema["required"]) == {"value", "from_unit", "to_unit"}
    assert all(prop.get("description") for prop in schema["properties"].values())
    assert "title" not in schema


def test_settings_default_and_bounds():
    assert UnitConverterSettings().precision == 6
    assert "precision" in UnitConverterSettings.model_json_schema()["properties"]
    for bad in (-1, 16):
        with pytest.raises(ValidationError, match="precision"):
            UnitConverterSettings(precision=bad)
    with pytest.raises(ValidationError, match="extra"):
        UnitConverterSettings(decimals=2)


# --- conversions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (1, "km", "m", 1000),
        (1, "mi", "km", 1.609344),
        (12, "in", "ft", 1),
        (3, "ft", "yd", 1),
        (1, "in", "cm", 2.54),
        (250, "mm", "cm", 25),
        (1, "lb", "g", 453.59237),
        (16, "oz", "lb", 1),
        (2.5, "t", "kg", 2500),
        (1500, "mg", "g", 1.5),
        (90, "min", "h", 1.5),
        (1, "d", "s", 86400),
        (1, "m3", "l", 1000),
        (1, "gal", "l", 3.785412),
        (500, "ml", "l", 0.5),
    ],
)
def test_linear_conversions(value, source, target, expected):
    assert converted(value, source, target) == pytest.approx(expected)


def test_result_content_and_data():
    result = convert(1, "km", "m")
    assert result == ToolResult(content="1000 m", data={"value": 1000.0, "unit": "m"})


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        (0, "C", "F", 32),
        (100, "C", "F", 212),
        (-40, "C", "F", -40),
        (-40, "F", "C", -40),
        (0, "C", "K", 273.15),
        (0, "K", "C", -273.15),
        (98.6, "F", "C", 37),
        (0, "K", "F", -459.67),
    ],
)
def test_temperature_is_affine(value, source, target, expected):
    assert converted(value, source, target) == pytest.approx(expected)


def test_minus_forty_reads_the_same_in_both_scales():
    assert convert(-40, "°C", "°F").content == "-40 °F"


def test_data_sizes_decimal_and_binary():
    assert converted(1, "KB", "B") == 1000
    assert converted(1, "KiB", "B") == 1024
    assert converted(1, "GiB", "MiB") == 1024
    assert converted(1, "GB", "MB") == 1000
    assert converted(1, "GiB", "GB") == pytest.approx(1.073742)
    assert converted(1, "TB", "GiB") == pytest.approx(931.322575)


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("meter", "m"),
        ("Metres", "m"),
        ("KM", "km"),
        ("kilometre", "km"),
        ("feet", "ft"),
        ("°C", "°C"),
        ("celsius", "°C"),
        ("c", "°C"),
        ("Fahrenheit", "°F"),
        ("kelvin", "K"),
        ("pounds", "lb"),
        ("  cubic   meter ", "m3"),
        ("mib", "MiB"),
        ("GB", "GB"),
        ("hours", "h"),
    ],
)
def test_aliases_ignore_case_and_spacing(name, symbol):
    unit = find_unit(name)
    assert unit is not None
    assert unit.symbol == symbol


def test_converting_to_the_same_unit_returns_the_value():
    assert converted(42.5, "kg", "kilograms") == 42.5


def test_negative_and_zero_values():
    assert converted(-3, "km", "m") == -3000
    result = convert(0, "ft", "m")
    assert result.content == "0 m"


def test_tiny_results_are_written_out_not_in_exponent_form():
    result = convert(1, "mg", "t", precision=15)
    assert result.data["value"] == pytest.approx(1e-9)
    assert result.content == "0.000000001 t"


# --- precision -------------------------------------------------------------------------------


def test_default_precision_is_six_decimal_places():
    assert converted(1, "ft", "mi") == 0.000189


def test_precision_setting_rounds_to_decimal_places():
    assert converted(1, "mi", "km", precision=2) == 1.61
    assert convert(1, "mi", "km", precision=2).content == "1.61 km"
    assert converted(1, "mi", "km", precision=0) == 2
    assert convert(1, "mi", "km", precision=0).content == "2 km"
    assert converted(1, "mi", "km", precision=15) == 1.609344


def test_rounding_does_not_leave_a_negative_zero():
    result = convert(-0.0001, "m", "km", precision=2)
    assert result.content == "0 km"
    assert str(result.data["value"]) == "0.0"


# --- mistakes are error results, not exceptions -----------------------------------------------


def test_unknown_source_unit_is_an_error_naming_it():
    result = convert(1, "furlong", "m")
    assert result.is_error
    assert "'furlong'" in result.content
    assert "length: m, km" in result.content  # says what it does know


def test_unknown_target_unit_is_an_error_naming_it():
    result = convert(1, "m", "parsec")
    assert result.is_error
    assert "'parsec'" in result.content


def test_both_units_unknown_are_both_named():
    result = convert(1, "cubit", "span")
    assert result.is_error
    assert "'cubit' and 'span'" in result.content


def test_incompatible_dimensions_is_an_error_naming_both():
    result = convert(1, "kg", "m")
    assert result.is_error
    assert "kg (mass)" in result.content
    assert "m (length)" in result.content


def test_data_size_to_time_is_incompatible():
    result = convert(1, "MB", "s")
    assert result.is_error
    assert "MB (data size)" in result.content
    assert "s (time)" in result.content


def test_temperature_below_absolute_zero_is_an_error():
    result = convert(-300, "C", "K")
    assert result.is_error
    assert "absolute zero" in result.content
    assert convert(-1, "K", "C").is_error


def test_overflowing_result_is_an_error():
    result = convert(1e308, "TB", "B")
    assert result.is_error
    assert "too large" in result.content


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"value": "lots", "from_unit": "m", "to_unit": "km"}, "value"),
        ({"value": float("nan"), "from_unit": "m", "to_unit": "km"}, "value"),
        ({"value": float("inf"), "from_unit": "m", "to_unit": "km"}, "value"),
        ({"value": 1, "from_unit": "", "to_unit": "km"}, "from_unit"),
        ({"value": 1, "from_unit": "m"}, "to_unit"),
    ],
)
def test_malformed_arguments_fail_validation_naming_the_field(arguments, field):
    """The platform validates arguments first and answers 400 with the field's name."""
    with pytest.raises(ValidationError) as caught:
        UnitConverter.Arguments.model_validate(arguments)
    assert [error["loc"][0] for error in caught.value.errors()] == [field]
