"""The legacy JSON API (../shared/contract/CONTRACT.md) on the Dovos store.

`app.create_app()` builds the FastAPI application, `server.serve()` runs it under
uvicorn (`dovos serve`), `adapter.LegacyAdapter` answers each endpoint as a contract
model (`models`), and `security` holds the loopback/token/CORS/body-size rules.
"""
