"""Tornado foundations shared by every service; see :mod:`common.web.app`."""

from common.web.app import ServiceApp
from common.web.handlers import ApiHandler, BaseHandler
from common.web.routes import Route, endpoint, route

__all__ = ["ApiHandler", "BaseHandler", "Route", "ServiceApp", "endpoint", "route"]
