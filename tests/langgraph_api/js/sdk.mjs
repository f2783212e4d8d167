// The unchanged @langchain/langgraph-sdk Client against graphgate: one JSON line per step, for
// tests/langgraph_api/test_js_clients.py to assert on. GRAPHGATE_URL and GRAPHGATE_TOKEN say where and who.
import { Client } from "@langchain/langgraph-sdk";

const client = new Client({
  apiUrl: process.env.GRAPHGATE_URL,
  apiKey: null, // no LANGGRAPH_API_KEY from the environment: the bearer JWT is the only credential
  defaultHeaders: { Authorization: `Bearer ${process.env.GRAPHGATE_TOKEN}` },
});
const STREAM_MODE = ["values", "updates", "messages-tuple"];

const emit = (step, body) => console.log(JSON.stringify({ step, ...body }));

async function stream(step, threadId, payload) {
  const created = [];
  for await (const part of client.runs.stream(threadId, "ask", {
    ...payload,
    streamMode: STREAM_MODE,
    onRunCreated: (meta) => created.push(meta),
  })) {
    emit(step, { event: part.event, data: part.data, id: part.id ?? null });
  }
  emit(`${step}:created`, { created });
}

try {
  const thread = await client.threads.create({ metadata: { client: "js" } });
  emit("thread", { thread });

  await stream("ask", thread.thread_id, { input: { text: "hi" } });
  emit("interrupted", { state: await client.threads.getState(thread.thread_id) });
  await stream("resume", thread.thread_id, { command: { resume: "Ada" } });
  emit("state", { state: await client.threads.getState(thread.thread_id) });

  const other = await client.threads.create();
  emit("wait:ask", { values: await client.runs.wait(other.thread_id, "ask", { input: {} }) });
  emit("wait:resume", { values: await client.runs.wait(other.thread_id, "ask", { command: { resume: "Grace" } }) });
  emit("runs", { runs: await client.runs.list(other.thread_id) });
} catch (error) {
  emit("error", { name: error?.name, status: error?.status ?? null, message: String(error?.message ?? error) });
  process.exitCode = 1;
}
