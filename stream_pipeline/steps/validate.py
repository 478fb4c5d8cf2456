"""``validate``: parse JSON (when the value or a field is still text) and validate it against a JSON Schema.

A record that does not parse, or does not match the schema, goes to the
dead-letter topic with the first (most relevant) schema error and its path.
The validator is built once; the schema's own ``$schema`` picks the draft
(2020-12 when absent). Formats (``date-time``, ``email``...) are checked.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import jsonschema
from jsonschema.exceptions import SchemaError, best_match
from pydantic import Field, field_validator

from stream_pipeline.records import Record, get_path, set_path, split_path
from stream_pipeline.steps.base import RecordStep, StepConfig, StepError


class ValidateConfig(StepConfig):
    type: Literal["validate"]
    json_schema: dict[str, Any] = Field(alias="schema", description="a JSON Schema document")
    field: str | None = Field(None, description="validate (and parse) this field instead of the whole message")
    parse: bool = Field(True, description="parse the value first when it is a string or bytes")

    model_config = {**StepConfig.model_config, "populate_by_name": True}

    @field_validator("json_schema")
    @classmethod
    def _check_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator).check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return schema


class ValidateStep(RecordStep):
    type = "validate"
    config_model = ValidateConfig

    def __init__(self, config: ValidateConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        schema = config.json_schema
        validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        self.validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
        self.field = split_path(config.field) if config.field else None

    def apply(self, record: Record) -> Record:
        target = record.value if self.field is None else get_path(record.value, self.field)
        if self.config.parse and isinstance(target, str | bytes | bytearray):
            try:
                target = json.loads(target)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                where = "the message" if self.field is None else f"field {self.config.field!r}"
                raise StepError(f"{where} is not valid JSON: {exc}") from None
            if self.field is None:
                record.value = target
            elif isinstance(record.value, dict):
                set_path(record.value, self.field, target)
        error = best_match(self.validator.iter_errors(target))
        if error is not None:
            location = "/".join(str(part) for part in error.absolute_path)
            where = f"at /{location}" if location else "at the top level"
            raise SchemaMismatch(f"schema validation failed {where}: {error.message}")
        return record


class SchemaMismatch(StepError):
    """The message does not match the step's JSON Schema."""
