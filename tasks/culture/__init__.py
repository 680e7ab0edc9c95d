"""Generated lm-eval task files and the `functions` module their `!function` tags name."""
