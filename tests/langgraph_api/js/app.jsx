// A minimal React page on useStream from @langchain/langgraph-sdk/react, unchanged, talking to graphgate from
// another origin. The test injects window.GRAPHGATE = {apiUrl, token} before the bundle runs.
import { useState } from "react";
import { createRoot } from "react-dom/client";
import { useStream } from "@langchain/langgraph-sdk/react";

const { apiUrl, token } = window.GRAPHGATE;
// one object for the page's life: useStream makes a new Client whenever defaultHeaders changes identity
const defaultHeaders = { Authorization: `Bearer ${token}` };

function App() {
  const [text, setText] = useState("hello");
  const [reply, setReply] = useState("");
  const [updates, setUpdates] = useState([]);
  const [error, setError] = useState(null);
  const thread = useStream({
    apiUrl,
    assistantId: "ask",
    defaultHeaders,
    onUpdateEvent: (data) => setUpdates((seen) => [...seen, ...Object.keys(data)]),
    onError: (err) => setError(String(err?.message ?? err)),
  });
  const values = thread.values ?? {};
  const question = thread.interrupt?.value?.question;
  const status = thread.isLoading ? "streaming" : values.answer ? "done" : question ? "interrupted" : "idle";
  const streamMode = ["values", "updates", "messages-tuple"];

  const start = (event) => {
    event.preventDefault();
    thread.submit({ text }, { streamMode });
  };
  const answer = (event) => {
    event.preventDefault();
    thread.submit(undefined, { command: { resume: reply }, streamMode });
  };

  return (
    <main data-status={status}>
      <h1>useStream × graphgate</h1>
      <p className="sub">
        <code>@langchain/langgraph-sdk/react</code> against graphgate's LangGraph Server API, graph <code>ask</code>
      </p>
      <form onSubmit={start}>
        <input id="text" value={text} onChange={(e) => setText(e.target.value)} />
        <button id="start" disabled={thread.isLoading || Boolean(question)}>Start</button>
      </form>
      {question && !thread.isLoading && (
        <>
          <div id="question" className="question">{question}</div>
          <form onSubmit={answer}>
            <input id="reply" value={reply} onChange={(e) => setReply(e.target.value)} />
            <button id="send">Answer</button>
          </form>
        </>
      )}
      {values.name && <div id="name">name: {values.name}</div>}
      {values.answer && <div id="answer" className="answer">{values.answer}</div>}
      {error && <div id="error" className="error">{error}</div>}
      <ol id="updates">{updates.map((node, i) => <li key={i}>{node}</li>)}</ol>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
