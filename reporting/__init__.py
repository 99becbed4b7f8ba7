"""What people look at: the training page, the results pages, plots (no model or scoring code)."""
