"""Pure domain rules: identifiers and other checks with no web or database dependency."""
