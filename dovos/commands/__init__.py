"""CLI command modules, one per area; `dovos.cli` registers each of them."""
