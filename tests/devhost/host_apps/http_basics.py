"""HTTP triggers: routes, methods, auth levels, bodies and headers."""

from __future__ import annotations

import asyncio
import json

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _echo(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(
            {
                "method": req.method,
                "url": req.url,
                "route": dict(req.route_params),
                "params": dict(req.params),
                "body": req.get_body().decode(),
                "header": req.headers.get("x-test"),
            }
        ),
        mimetype="application/json",
    )


@app.route(route="items/{item_id:int}", methods=["GET"])
def item_by_number(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req)


@app.route(route="items/{name}", methods=["GET", "PUT"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req)


@app.route(route="items/special", methods=["GET"])
def special_item(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req)


@app.route(route="files/{*path}")
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _echo(req)


@app.route(route="secret", auth_level=func.AuthLevel.FUNCTION)
def secret(req: func.HttpRequest) -> str:
    return "function level"


@app.route(route="admin", auth_level=func.AuthLevel.ADMIN)
async def admin(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return func.HttpResponse("admin level", status_code=201)


@app.route(route="typed")
def typed(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(
        "<p>hi</p>", mimetype="text/plain", headers={"Content-Type": "text/html; charset=utf-8"}
    )


@app.route(route="untyped")
def untyped(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(b"\x00\x01", mimetype="application/octet-stream", headers={"X-A": "1"})


@app.route(route="broken")
def broken(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("broken on purpose")


@app.route(route="loop")
async def which_loop(req: func.HttpRequest) -> str:
    return str(id(asyncio.get_running_loop()))
