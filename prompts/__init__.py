"""Prompt templates (Markdown files), shipped inside the package as verifix.prompts."""
