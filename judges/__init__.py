"""LLM judges for open-ended answers and the MCQ fallback (OpenAI, Gemini, OpenAI-compatible, local)."""
