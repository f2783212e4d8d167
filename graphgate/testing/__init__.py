"""What the tests and the benchmarks share: local processes (Redis, API, workers, dispatcher), a test HTTP and SSE
client, and fake Slack, Telegram and OpenAI-compatible servers on loopback. Never imported by the product."""
