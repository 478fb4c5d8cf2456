"""``/api/v1/clients`` and ``/api/v1/users``: OAuth2 clients and users (scope admin).

A client's secret and a user's password appear in the creation response
only; afterwards only their hashes exist. Changing a user's role, password
or disabled flag, or deleting the user, ends their browser sessions: their
refresh tokens stop working at once, their access tokens when they expire.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from common.errors import NotFound
from common.scopes import ADMIN, ALL_SCOPES
from common.web import ApiHandler, endpoint
from flow_automation.identity.accounts import User, public_view

ScopeName = Literal[ALL_SCOPES]  # type: ignore[valid-type]


class ClientCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="what the client is, for people")
    scopes: list[ScopeName] = Field(min_length=1, description="the scopes the client may request")
    client_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")


class ClientView(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    grant_types: list[str]
    redirect_uris: list[str]
    first_party: bool
    disabled: bool
    created_at: datetime


class ClientCreated(ClientView):
    client_secret: str = Field(description="shown once; store it now")


class ClientList(BaseModel):
    items: list[ClientView]


class UserCreate(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
    password: str = Field(min_length=8, max_length=256)
    role: Literal["viewer", "editor", "admin"] = "viewer"


class UserUpdate(BaseModel):
    role: Literal["viewer", "editor", "admin"] | None = None
    disabled: bool | None = Field(None, description="a disabled user cannot sign in; their sessions end")
    password: str | None = Field(None, min_length=8, max_length=256)


class UserView(BaseModel):
    username: str
    role: str
    scopes: list[str]
    disabled: bool = False
    created_at: datetime


class UserList(BaseModel):
    items: list[UserView]


def _user_view(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "scopes": sorted(user.scopes),
        "disabled": user.disabled,
        "created_at": user.created_at,
    }


class ClientsHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="List OAuth2 clients (never their secrets)", response=ClientList)
    async def get(self) -> dict[str, Any]:
        clients = await self.application.identity.accounts.list_clients()
        return {"items": [public_view(client) for client in clients]}

    @endpoint(
        scopes=[ADMIN],
        summary="Register a client for the client_credentials grant; the secret is returned once",
        body=ClientCreate,
        response=ClientCreated,
        status=201,
        audit="client.create",
        errors=(409,),
    )
    async def post(self, *, body: ClientCreate) -> dict[str, Any]:
        client, secret = await self.application.identity.accounts.create_client(
            name=body.name, scopes=list(body.scopes), client_id=body.client_id
        )
        self.audit_object_id = client.client_id
        return {**public_view(client), "client_secret": secret}


class ClientHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="One client", response=ClientView)
    async def get(self, client_id: str) -> dict[str, Any]:
        client = await self.application.identity.accounts.get_client(client_id)
        if client is None:
            raise NotFound("client", client_id)
        return public_view(client)

    @endpoint(
        scopes=[ADMIN],
        summary="Delete a client; its tokens stop working when they expire",
        status=204,
        audit="client.delete",
    )
    async def delete(self, client_id: str) -> None:
        await self.application.identity.accounts.delete_client(client_id)
        self.set_status(204)
        self.finish()


class UsersHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="List users (never their passwords)", response=UserList)
    async def get(self) -> dict[str, Any]:
        users = await self.application.identity.accounts.list_users()
        return {"items": [_user_view(user) for user in users]}

    @endpoint(
        scopes=[ADMIN],
        summary="Create a user who signs in to the web UI",
        body=UserCreate,
        response=UserView,
        status=201,
        audit="user.create",
        errors=(409,),
    )
    async def post(self, *, body: UserCreate) -> dict[str, Any]:
        user = await self.application.identity.accounts.create_user(
            username=body.username, password=body.password, role=body.role
        )
        self.audit_object_id = user.username
        return _user_view(user)


class UserHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="One user", response=UserView)
    async def get(self, username: str) -> dict[str, Any]:
        user = await self.application.identity.accounts.get_user(username)
        if user is None:
            raise NotFound("user", username)
        return _user_view(user)

    @endpoint(
        scopes=[ADMIN],
        summary="Change a user's role, password or disabled flag; their browser sessions end",
        body=UserUpdate,
        response=UserView,
        audit="user.update",
    )
    async def patch(self, username: str, *, body: UserUpdate) -> dict[str, Any]:
        identity = self.application.identity
        user = await identity.accounts.update_user(
            username, role=body.role, disabled=body.disabled, password=body.password
        )
        if any(value is not None for value in (body.role, body.disabled, body.password)):
            await identity.end_sessions(username, reason="the user was changed")
        return _user_view(user)

    @endpoint(scopes=[ADMIN], summary="Delete a user; their browser sessions end", status=204, audit="user.delete")
    async def delete(self, username: str) -> None:
        identity = self.application.identity
        await identity.accounts.delete_user(username)
        await identity.end_sessions(username, reason="the user was deleted")
        self.set_status(204)
        self.finish()
