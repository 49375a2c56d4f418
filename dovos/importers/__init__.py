"""Importers: one module per export format, each producing ParsedConversation objects."""

from dovos.importers.parsed import ParsedConversation, ParsedMessage

__all__ = ["ParsedConversation", "ParsedMessage"]
