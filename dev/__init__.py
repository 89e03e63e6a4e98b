"""Dev-only code, never imported in production: the embedded servers, `bin/run`'s launcher and the demo content."""
