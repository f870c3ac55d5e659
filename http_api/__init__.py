"""The app's HTTP API (docs/CONTRACTS.md section 5) under `/api`: thin routes over the
domain, the store and the Durable client. Input is checked once (`http_api.requests`);
every refusal and failure is `{"error": {"code", "message"}}` (`http_api.errors`). The
routes need a function key: they take the app's default auth level, FUNCTION.

docs/openapi.yaml describes every route; tests/http keeps it true.
"""
