"""Response analytics in the REST API: the whole report, each table as JSON, and each table as CSV (`.csv`).

Same query for all: `?from=YYYY-MM-DD&to=YYYY-MM-DD` (calendar days, `to` excluded; default the last 30 days),
`tz` (IANA zone the days are in; default the key owner's), `team_id`, `service_id`, `urgency=high|low`. Thin:
everything reads through `admin.analytics`, like the page; the definitions are in `engine.analytics`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from opsknight.admin import analytics
from opsknight.api.deps import Reader
from opsknight.api.errors import ERROR_RESPONSES, ErrorShapedRoute
from opsknight.db import session_scope

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"], route_class=ErrorShapedRoute)

# Strings here, checked by the admin layer: one clear message per bad field ("from: must be a date as YYYY-MM-DD").
_Text = Annotated[str | None, Query(max_length=64)]


def _query(
    from_: Annotated[str | None, Query(alias="from", max_length=64, description="First day, YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(max_length=64, description="Day after the last, YYYY-MM-DD")] = None,
    tz: Annotated[str | None, Query(max_length=64, description="IANA time zone of the days")] = None,
    team_id: _Text = None, service_id: _Text = None,
    urgency: Annotated[str | None, Query(max_length=64, description="high or low")] = None,
) -> dict:
    given = {"from": from_, "to": to, "tz": tz, "team_id": team_id, "service_id": service_id, "urgency": urgency}
    return {k: v for k, v in given.items() if v not in (None, "")}


Filters = Annotated[dict, Depends(_query)]


class CSVResponse(Response):
    media_type = "text/csv"


# A CSV route still refuses in the JSON error shape: documented as such (FastAPI would give every response of the
# route the route's own media type). ErrorBody is in the schema's components through the JSON routes.
_CSV_RESPONSES = {
    **{status: {"description": r["description"],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
       for status, r in ERROR_RESPONSES.items()},
    200: {"description": "The table as CSV: a header of column names, then one line per row",
          "content": {"text/csv": {"schema": {"type": "string"}}}},
}


@router.get("", summary="Every figure for the window: summary, incidents per day, per person, noisiest services "
                        "and sources")
def get_report(principal: Reader, query: Filters) -> dict:
    with session_scope() as db:
        return analytics.report(db, principal, query)


def _add_table_routes(table: analytics.Table) -> None:
    name = table.name

    def as_json(principal: Reader, query: Filters) -> dict:
        with session_scope() as db:
            return analytics.table(db, principal, name, query)

    def as_csv(principal: Reader, query: Filters) -> Response:
        with session_scope() as db:
            found = analytics.table(db, principal, name, query)
        window = found["window"]
        filename = f"opsknight-{name}-{window['from']}-to-{window['to']}.csv"
        return CSVResponse(analytics.csv_text(name, found["data"]),
                           headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    router.add_api_route(f"/{name}", as_json, methods=["GET"], summary=f"{table.title} (JSON rows)",
                         operation_id=f"analytics_{name}")
    router.add_api_route(f"/{name}.csv", as_csv, methods=["GET"], summary=f"{table.title} as CSV",
                         operation_id=f"analytics_{name}_csv", response_class=CSVResponse,
                         responses=_CSV_RESPONSES)


for _table in analytics.TABLES.values():
    _add_table_routes(_table)
