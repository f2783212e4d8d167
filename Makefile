# graphgate: `make up` runs the product, `make test` runs the tests. Both set up .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install up test test-rabbitmq test-cluster test-fast lint soak bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

up: install
	$(VENV)/bin/graphgate up

# pytest exits 5 when it collected no tests; that is not a failure of the suite
# lint and format (ruff), types (mypy, strict on graphgate.core), the import-layer contract, then every test,
# then the core flow and the worker-kill tests again with RabbitMQ as the broker, then the in-process suites, the
# core flow and a Telegram conversation again with graphgate's state on a Redis Cluster
test: install lint
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi
	$(MAKE) --no-print-directory test-rabbitmq
	$(MAKE) --no-print-directory test-cluster

# the broker-dependent tests with RabbitMQ (quorum queues, publisher confirms) instead of Redis as Celery's broker;
# skipped, saying so, when no RabbitMQ answers at RABBITMQ_URL
RABBITMQ_URL ?= amqp://guest:guest@127.0.0.1:5672//
BROKER_TESTS := tests/e2e/test_core_flow.py tests/reliability/test_worker_kill.py
test-rabbitmq: install
	@if $(PY) -c "from kombu import Connection; Connection('$(RABBITMQ_URL)', connect_timeout=3).ensure_connection(max_retries=1)" 2>/dev/null; then \
		echo "--- again with RabbitMQ as the broker ($(RABBITMQ_URL))"; \
		GRAPHGATE_TEST_BROKER='$(RABBITMQ_URL)' $(PY) -m pytest -p no:cacheprovider $(BROKER_TESTS); \
	else \
		echo "--- RabbitMQ does not answer at $(RABBITMQ_URL): the RabbitMQ broker run is skipped"; \
	fi

# the in-process suites, the core flow and a Telegram conversation with graphgate's state on a 3-primary Redis
# Cluster the tests start (the run's own Redis is the Celery broker); tests/reliability/test_cluster.py, in every
# run, moves every slot holding data and kills a primary while runs stream to SSE clients and Slack
CLUSTER_TESTS := tests/e2e/test_core_flow.py \
	tests/e2e/test_telegram_flow.py::test_webhook_interactive_writer_message_to_final_answer
test-cluster: install
	@echo "--- again with graphgate's state on a Redis Cluster"
	GRAPHGATE_TEST_REDIS_CLUSTER=1 $(PY) -m pytest -p no:cacheprovider -q -m "not integration" tests/gateway tests/workers tests/connectors
	GRAPHGATE_TEST_REDIS_CLUSTER=1 $(PY) -m pytest -p no:cacheprovider $(CLUSTER_TESTS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy graphgate/core

# the in-process tests only (real Redis, no graphgate processes): about a minute
test-fast: install
	$(PY) -m pytest -m "not integration and not soak" $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi

# the full soak: 2,000 tasks while workers are killed at random (several minutes; SOAK_TASKS=, SOAK_SEED=)
soak: install
	$(PY) -m pytest -m soak tests/reliability/test_soak.py -s $(PYTEST_ARGS)

# graphgate side by side with the LangGraph servers `langgraph dev` and Aegra, one table (about 9 minutes;
# docs/performance.md; BENCH_ARGS=--smoke for a quick check, --no-aegra without Aegra). Aegra needs Python >= 3.12:
# the bench makes its venv, .venv-aegra, on first use.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .graphgate
