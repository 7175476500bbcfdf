"""The window's dialogs, each imported when first opened."""
