"""graphgate's benchmarks, side by side with the LangGraph server: ``python -m bench`` (docs/performance.md)."""
