"""/docs: Swagger UI from assets installed with the project (swagger-ui-bundle), no CDN."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_DIR = Path(swagger_ui_bundle.swagger_ui_path)
STATIC_PREFIX = "/docs/static"

PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>EPV Valuation Pro API</title>
  <link rel="stylesheet" href="{STATIC_PREFIX}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{STATIC_PREFIX}/swagger-ui-bundle.js"></script>
  <script src="{STATIC_PREFIX}/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: "StandaloneLayout"
    }});
  </script>
</body>
</html>
"""


def static_assets() -> StaticFiles:
    return StaticFiles(directory=ASSETS_DIR)


async def docs_page(_request) -> HTMLResponse:
    return HTMLResponse(PAGE)
