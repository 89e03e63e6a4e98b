"""Demo content for the embedded demo: two games and a few Korean and English guides (demo_setup loads it)."""
