"""Charts and the offline HTML pages: model, portfolio run and merchant."""
