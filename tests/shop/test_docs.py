"""The shop's API docs work behind JupyterLab's proxy and without internet: every asset comes from the shop."""

from __future__ import annotations

import asyncio
import re

import httpx

from kit.shop.service import ServiceSettings, create_shop_app


def test_the_docs_pages_load_their_assets_from_the_shop_under_the_proxy_prefix():
    async def scenario() -> None:
        shop = create_shop_app(ServiceSettings(token="t", payments_url="http://127.0.0.1:9"))
        async with shop.router.lifespan_context(shop):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(shop), base_url="http://shop",
                                         headers={"X-Forwarded-Prefix": "/user/ana/shop"}) as client:
                for page in ("/docs", "/redoc"):
                    html = (await client.get(page)).text
                    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
                    assert assets and not [a for a in assets if not a.startswith("/user/ana/shop/")], (page, assets)
                    for asset in assets:
                        local = asset.removeprefix("/user/ana/shop")
                        assert (await client.get(local)).status_code == 200, asset
                    assert "/user/ana/shop/openapi.json" in html
                assert (await client.get("/catalog")).status_code == 200
            metrics = (await httpx.AsyncClient(transport=httpx.ASGITransport(shop), base_url="http://shop")
                       .get("/metrics")).text
            # a request through the proxy is counted under its route, as any other
            assert 'http_requests_total{code="200",method="GET",route="/catalog"} 1.0' in metrics

    asyncio.run(scenario())
