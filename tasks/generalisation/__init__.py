"""Generated `mmlu_local_*` and `behaviour_*` lm-eval task files and their `functions` module."""
