"""The API's routes, one router per concern; `api.main` includes them."""
