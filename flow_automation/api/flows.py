"""``/api/v1/flows``: flow definitions, their versions, validation, diff, export and import.

Bodies are JSON or YAML (``Content-Type: application/yaml``). A definition is
validated whole on every save (:mod:`flow_automation.flows.validation`); a
422's ``details.errors`` lists every problem with its node and field.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, Field

from common.errors import Conflict, InvalidArgument
from common.pagination import PageQuery
from common.scopes import FLOWS_READ, FLOWS_RUN, FLOWS_WRITE
from common.web import ApiHandler, endpoint
from flow_automation.flows.diff import diff_definitions
from flow_automation.flows.model import FlowDefinition, slugify
from flow_automation.flows.store import flow_view, version_view
from flow_automation.flows.validation import parse_flow, validate_flow

if TYPE_CHECKING:
    from flow_automation.app import FlowAutomationApp

DEFINITION_TYPES = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")
FlowBody = dict[str, Any]


class FlowListQuery(PageQuery):
    q: str | None = Field(None, max_length=200, description="search in id, name and description")
    tag: str | None = Field(None, max_length=100)


class VersionQuery(BaseModel):
    version: int | None = Field(None, ge=1, description="a saved version; default the latest")


class DeleteQuery(BaseModel):
    force: bool = Field(False, description="cancel the flow's active runs and delete anyway")


class SaveQuery(BaseModel):
    base_version: int | None = Field(
        None, ge=1, description="refuse (409) unless the latest version is this one: no lost concurrent edits"
    )


class DiffQuery(BaseModel):
    model_config = {"populate_by_name": True}

    from_version: int | None = Field(None, alias="from", ge=1, description="default: the version before `to`")
    to_version: int | None = Field(None, alias="to", ge=1, description="default: the latest version")


class ExportQuery(VersionQuery):
    format: Literal["yaml", "json"] = "yaml"


class ImportQuery(BaseModel):
    overwrite: bool = Field(True, description="when the flow exists, save the file as its new version")


class RunCreate(BaseModel):
    params: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(None, ge=1, description="run this saved version; default the latest")


class BackfillCreate(BaseModel):
    start: datetime
    end: datetime
    version: int | None = Field(None, ge=1)


class FlowHandlerBase(ApiHandler):
    application: FlowAutomationApp

    @property
    def actor(self) -> str | None:
        return self.principal.subject if self.principal else None

    def definition_from_request(self) -> FlowDefinition:
        if self.request.files.get("file"):
            upload = self.request.files["file"][0]
            data = _decode_file(upload["filename"], upload["body"])
        else:
            data = self.body_data(DEFINITION_TYPES)
        return parse_flow(data)

    async def after_save(self, flow_id: str) -> None:
        await self.application.triggers.sync(flow_id)


class FlowsHandler(FlowHandlerBase):
    @endpoint(scopes=[FLOWS_READ], summary="List flows with their latest version and last run", query=FlowListQuery)
    async def get(self, *, query: FlowListQuery) -> dict[str, Any]:
        return await self.application.flows.list_flows(
            search=query.q, tag=query.tag, limit=query.limit, cursor=query.cursor
        )

    @endpoint(
        scopes=[FLOWS_WRITE],
        summary="Create a flow (version 1) from a JSON or YAML definition",
        body=FlowBody,
        body_types=DEFINITION_TYPES,
        status=201,
        audit="flow.create",
        errors=(409, 422),
    )
    async def post(self, *, body: FlowBody) -> dict[str, Any]:
        flow = parse_flow(body)
        validate_flow(flow)
        stored, version = await self.application.flows.create(flow, actor=self.actor)
        self.audit_object_id = stored["_id"]
        await self.after_save(stored["_id"])
        return flow_view(await self._reload(stored["_id"]), version)

    async def _reload(self, flow_id: str) -> dict[str, Any]:
        flow, _ = await self.application.flows.get(flow_id)
        return flow


class FlowValidateHandler(FlowHandlerBase):
    @endpoint(
        scopes=[FLOWS_READ],
        summary="Validate a definition without saving it (422 with every problem)",
        body=FlowBody,
        body_types=DEFINITION_TYPES,
        audited=False,
        errors=(422,),
    )
    async def post(self, *, body: FlowBody) -> dict[str, Any]:
        flow = parse_flow(body)
        validate_flow(flow)
        return {"valid": True, "errors": [], "nodes": len(flow.nodes)}


class FlowImportHandler(FlowHandlerBase):
    @endpoint(
        scopes=[FLOWS_WRITE],
        summary="Import a flow file (JSON or YAML body, or a multipart upload in the field `file`)",
        query=ImportQuery,
        status=201,
        audit="flow.import",
        body_types=(*DEFINITION_TYPES, "multipart/form-data"),
        errors=(409, 422),
    )
    async def post(self, *, query: ImportQuery) -> dict[str, Any]:
        flow = self.definition_from_request()
        validate_flow(flow)
        store = self.application.flows
        try:
            stored, version = await store.create(flow, actor=self.actor)
        except Conflict:
            if not query.overwrite:
                raise
            flow_id = flow.id or slugify(flow.name)
            stored, version, _ = await store.save(flow_id, flow, actor=self.actor)
        self.audit_object_id = stored["_id"]
        await self.after_save(stored["_id"])
        return flow_view(stored, version)


class FlowHandler(FlowHandlerBase):
    @endpoint(scopes=[FLOWS_READ], summary="A flow with its definition", query=VersionQuery, errors=(404,))
    async def get(self, flow_id: str, *, query: VersionQuery) -> dict[str, Any]:
        flow, version = await self.application.flows.get(flow_id, query.version)
        return flow_view(flow, version)

    @endpoint(
        scopes=[FLOWS_WRITE],
        summary="Save a new version of a flow (none when the definition is unchanged)",
        body=FlowBody,
        body_types=DEFINITION_TYPES,
        query=SaveQuery,
        audit="flow.update",
        errors=(404, 409, 422),
    )
    async def put(self, flow_id: str, *, body: FlowBody, query: SaveQuery) -> dict[str, Any]:
        flow = parse_flow(body)
        if flow.id is not None and flow.id != flow_id:
            raise InvalidArgument(f"the body's id {flow.id!r} differs from the URL's {flow_id!r}")
        validate_flow(flow)
        stored, version, created = await self.application.flows.save(
            flow_id, flow, actor=self.actor, base_version=query.base_version
        )
        if created:
            await self.after_save(flow_id)
        return {**flow_view(stored, version), "created_version": created}

    @endpoint(
        scopes=[FLOWS_WRITE],
        summary="Delete a flow and its versions (409 while runs are active, unless force)",
        query=DeleteQuery,
        audit="flow.delete",
        errors=(404, 409),
    )
    async def delete(self, flow_id: str, *, query: DeleteQuery) -> dict[str, Any]:
        app = self.application
        await app.flows.get(flow_id)
        active = await app.engine.active_runs(flow_id)
        if active and not query.force:
            raise Conflict(
                f"flow {flow_id!r} has {len(active)} active run(s); cancel them or delete with ?force=true",
                details={"active_runs": active},
            )
        for run_id in active:
            with contextlib.suppress(Conflict):  # ended meanwhile
                await app.engine.cancel(run_id)
        await app.triggers.remove(flow_id)
        await app.flows.delete(flow_id)
        return {"id": flow_id, "deleted": True, "canceled_runs": active}


class FlowVersionsHandler(FlowHandlerBase):
    @endpoint(scopes=[FLOWS_READ], summary="The saved versions of a flow, newest first", query=PageQuery)
    async def get(self, flow_id: str, *, query: PageQuery) -> dict[str, Any]:
        return await self.application.flows.list_versions(flow_id, limit=query.limit, cursor=query.cursor)


class FlowVersionHandler(FlowHandlerBase):
    @endpoint(scopes=[FLOWS_READ], summary="One saved version of a flow", errors=(404,))
    async def get(self, flow_id: str, version: str) -> dict[str, Any]:
        if not version.isdigit():
            raise InvalidArgument(f"a version is a positive integer, not {version[:20]!r}")
        _, stored = await self.application.flows.get(flow_id, int(version))
        return version_view(stored)


class FlowDiffHandler(FlowHandlerBase):
    @endpoint(scopes=[FLOWS_READ], summary="What changed between two versions", query=DiffQuery, errors=(404,))
    async def get(self, flow_id: str, *, query: DiffQuery) -> dict[str, Any]:
        store = self.application.flows
        _flow, latest = await store.get(flow_id, query.to_version)
        to_number = latest["version"]
        from_number = query.from_version if query.from_version is not None else max(1, to_number - 1)
        _, older = await store.get(flow_id, from_number)
        return {
            "flow_id": flow_id,
            "from": from_number,
            "to": to_number,
            "changes": diff_definitions(older["definition"], latest["definition"]),
        }


class FlowExportHandler(FlowHandlerBase):
    @endpoint(
        scopes=[FLOWS_READ],
        summary="Download a flow definition as one YAML or JSON file",
        query=ExportQuery,
        response_type="application/yaml",
    )
    async def get(self, flow_id: str, *, query: ExportQuery) -> None:
        _, stored = await self.application.flows.get(flow_id, query.version)
        definition = stored["definition"]
        if query.format == "json":
            text = json.dumps(definition, indent=2, ensure_ascii=False)
            self.set_header("Content-Type", "application/json; charset=utf-8")
        else:
            text = yaml.safe_dump(definition, sort_keys=False, allow_unicode=True)
            self.set_header("Content-Type", "application/yaml; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{flow_id}.{query.format}"')
        self.finish(text)


class FlowRunsHandler(FlowHandlerBase):
    @endpoint(
        scopes=[FLOWS_RUN],
        summary="Start a run of a flow (the latest version unless `version` is given)",
        body=RunCreate,
        status=201,
        audit="run.create",
        errors=(404, 422),
    )
    async def post(self, flow_id: str, *, body: RunCreate) -> dict[str, Any]:
        run, _ = await self.application.engine.create_run(
            flow_id, params=body.params, version=body.version, trigger={"type": "manual"}, actor=self.actor
        )
        self.audit_object_id = run["_id"]
        return {
            "id": run["_id"],
            "run_id": run["_id"],
            "state": run["state"],
            "flow_id": flow_id,
            "version": run["version"],
        }


class FlowBackfillHandler(FlowHandlerBase):
    @endpoint(
        scopes=[FLOWS_RUN],
        summary="One run per slot of the flow's cron trigger between start and end",
        body=BackfillCreate,
        status=201,
        audit="run.backfill",
        errors=(404, 422),
    )
    async def post(self, flow_id: str, *, body: BackfillCreate) -> dict[str, Any]:
        start, end = (_aware(body.start), _aware(body.end))
        run_ids = await self.application.engine.backfill(flow_id, start, end, actor=self.actor, version=body.version)
        return {"flow_id": flow_id, "run_ids": run_ids, "count": len(run_ids)}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _decode_file(filename: str, content: bytes) -> Any:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"{filename!r} is not UTF-8 text") from None
    try:
        return json.loads(text) if filename.lower().endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidArgument(f"{filename!r} is not valid JSON or YAML: {exc}") from None
