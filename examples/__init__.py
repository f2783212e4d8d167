"""Example LangGraph graphs served by graphgate (see ``langgraph.json``)."""
