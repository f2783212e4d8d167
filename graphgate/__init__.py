"""graphgate: LangGraph graphs behind an HTTPS API, Slack, Telegram and a web chat widget.

The namespace and where each part lives in the source tree (docs/architecture.md has the map):

* ``graphgate.core`` (graphgate/core/): settings, Redis keys, events, interrupts, the task store and service,
  the graph registry, the run queue, the platform protocol and the task view. Imports no web framework, no
  worker code and no connector.
* ``graphgate.gateway`` (gateway/): the HTTP app.
* ``graphgate.workers`` (workers/): the Celery run and the chat dispatcher.
* ``graphgate.connectors`` (connectors/): Slack, Telegram and the shared chat rendering.
* ``graphgate.cli`` (graphgate/cli/): the commands and the composition root that wires the parts together.
* ``graphgate.testing`` (graphgate/testing/): the harness the tests and the benchmarks share: local
  processes, fake Slack, Telegram and OpenAI servers.
"""

__version__ = "0.1.0"
