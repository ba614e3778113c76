"""Rendering: terminal text, Markdown, HTML, JSON and plots (nothing here decodes)."""
