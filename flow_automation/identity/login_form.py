"""The sign-in page of ``/oauth2/authorize`` and the guard against forged form posts.

The page is self-contained HTML: one inline stylesheet (allowed by its hash
in the Content-Security-Policy), no script, no external asset. It keeps the
authorization request's parameters in hidden fields and posts to the
relative path ``/oauth2/authorize``, so it works on flow_automation itself
and behind flow_web, which proxies ``/oauth2/*``.

Forged posts are refused with a signed double-submit token: the page sets a
random nonce in an HttpOnly, SameSite=Strict cookie and puts the same nonce,
encrypted and timestamped with the platform's Fernet key
(``DATAFLOW_SECRET_KEY``), in a hidden field. A post is accepted only when
the field decrypts (so it came from this server, at most
``LOGIN_FORM_TTL_S`` ago) to the nonce in the cookie (so it came from the
browser that loaded the page). Every replica shares the key, so no server
state is needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from html import escape

from cryptography.fernet import InvalidToken, MultiFernet

CSRF_COOKIE = "dataflow_signin"  # the nonce half of the sign-in form's double-submit token
CSRF_FIELD = "csrf_token"  # the signed half, a hidden field of the form
LOGIN_FORM_TTL_S = 3600  # a sign-in page left open longer than this must be reloaded
FORM_ACTION = "/oauth2/authorize"  # relative, so the page also works behind flow_web's proxy

#: The authorization request's parameters that the form carries over, in this order.
AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)

_NONCE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class LoginFormGuard:
    """Issues and checks the sign-in form's double-submit token."""

    def __init__(self, box: MultiFernet, *, ttl_s: int = LOGIN_FORM_TTL_S) -> None:
        self.box = box
        self.ttl_s = ttl_s

    @staticmethod
    def nonce(cookie: str | None) -> str:
        """The browser's nonce if it sent a well-formed one, else a new one (to be set as the cookie)."""
        return cookie if cookie and _NONCE.match(cookie) else secrets.token_urlsafe(32)

    def form_token(self, nonce: str) -> str:
        return self.box.encrypt(nonce.encode()).decode()

    def check(self, cookie: str | None, form_token: str | None) -> bool:
        if not cookie or not form_token or not _NONCE.match(cookie):
            return False
        try:
            signed = self.box.decrypt(form_token.encode(), ttl=self.ttl_s)
        except (InvalidToken, ValueError, TypeError):
            return False
        return hmac.compare_digest(signed, cookie.encode())


_STYLE = """
:root{color-scheme:light dark;--bg:#f4f6f9;--card:#fff;--text:#1c2330;--muted:#5d6778;--line:#d5dae3;
--accent:#2f6fed;--accent-text:#fff;--error-bg:#fdecec;--error-text:#9b1c1c}
@media (prefers-color-scheme:dark){:root{--bg:#12151b;--card:#1b2029;--text:#e6e9ef;--muted:#9aa3b2;
--line:#303846;--accent:#5b8df5;--error-bg:#3a1d20;--error-text:#ffb4b4}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:var(--bg);
color:var(--text);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{width:100%;max-width:360px;margin:24px;padding:32px 28px;background:var(--card);border:1px solid var(--line);
border-radius:12px;box-shadow:0 8px 28px rgba(0,0,0,.08)}
.brand{display:flex;align-items:center;gap:10px;margin:0 0 6px;font-size:22px;font-weight:650;letter-spacing:-.01em}
.mark{width:26px;height:26px;border-radius:7px;background:linear-gradient(135deg,var(--accent),#7c4dff)}
.sub{margin:0 0 22px;color:var(--muted)}
label{display:block;margin:14px 0 6px;font-weight:550}
input[type=text],input[type=password]{width:100%;padding:10px 12px;font:inherit;color:inherit;background:transparent;
border:1px solid var(--line);border-radius:8px}
input:focus{outline:2px solid var(--accent);outline-offset:1px;border-color:transparent}
button{width:100%;margin-top:22px;padding:11px;font:inherit;font-weight:600;color:var(--accent-text);
background:var(--accent);border:0;border-radius:8px;cursor:pointer}
button:hover{filter:brightness(1.08)}
.error{margin:0 0 8px;padding:10px 12px;border-radius:8px;background:var(--error-bg);color:var(--error-text)}
.detail{color:var(--muted);font-size:13px;word-break:break-word}
"""

#: The Content-Security-Policy source that allows exactly the inline stylesheet above.
_STYLE_DIGEST = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
STYLE_SOURCE = f"'sha256-{_STYLE_DIGEST}'"


def content_security_policy(redirect_origin: str | None = None) -> str:
    """No script, no external asset, no framing; the form may post here and follow the redirect to the client."""
    form_action = "'self'" + (f" {redirect_origin}" if redirect_origin else "")
    return (
        f"default-src 'none'; style-src {STYLE_SOURCE}; form-action {form_action}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)} · Dataflow</title><style>{_STYLE}</style></head>"
        f'<body><main><p class="brand"><span class="mark" aria-hidden="true"></span>Dataflow</p>{body}</main>'
        "</body></html>\n"
    )


def render_login_page(
    *,
    params: dict[str, str],
    csrf_token: str,
    client_name: str,
    username: str = "",
    message: str | None = None,
) -> str:
    """The sign-in form, keeping ``params`` (the authorization request) in hidden fields."""
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(params[name])}">'
        for name in AUTHORIZE_PARAMS
        if params.get(name)
    )
    error = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    focus_username = "" if username else " autofocus"
    focus_password = " autofocus" if username else ""
    body = (
        f'<p class="sub">Sign in to continue to {escape(client_name)}</p>{error}'
        f'<form method="post" action="{FORM_ACTION}">'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token)}">{hidden}'
        '<label for="username">Username</label>'
        f'<input id="username" name="username" type="text" value="{escape(username)}" '
        f'autocomplete="username" autocapitalize="none" spellcheck="false" required{focus_username}>'
        '<label for="password">Password</label>'
        f'<input id="password" name="password" type="password" autocomplete="current-password" '
        f"required{focus_password}>"
        '<button type="submit">Sign in</button></form>'
    )
    return _page("Sign in", body)


def render_error_page(*, title: str, message: str, detail: str | None = None) -> str:
    """A page for a request that cannot go back to the client (unknown client, unregistered redirect URI)."""
    extra = f'<p class="detail">{escape(detail)}</p>' if detail else ""
    body = f'<p class="sub">{escape(title)}</p><p class="error" role="alert">{escape(message)}</p>{extra}'
    return _page(title, body)
