"""Scripted LLM servers on 127.0.0.1 speaking the OpenAI chat-completions and Ollama /api/chat
wire formats, for tests. Each distinct teacher prompt takes the next plan from a script (a list of
behaviours, one per request for that prompt, the last repeating); prompts beyond the script get
["ok"]. Plans are assigned in arrival order, so with concurrency > 1 the *set* of behaviours used
is fixed even though which job gets which is not: tests assert on what the store recorded.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Assembled at run time, like tests/planted_secrets.py, so no literal looks like a key.
SECRET = "sk-" + "proj-" + "Q7rT2vX9kL4mN8pW3zY6bC1dF5gH0jKsLm4Np8Rt"
IDS = re.compile(r"\[(c_[0-9a-f]{12})\]")
SYSTEM_PROMPT_MARK = "Answer the user's question using only the provided context"
REASONING = "REASONING-FIELD-NEVER-IN-SAMPLES"


class ScriptedLLM:
    """The behaviour of the fake models, shared by both wire formats."""

    def __init__(
        self,
        teacher: list[list[str]] | None = None,
        critic: list[list[str]] | None = None,
        self_check: list[list[str]] | None = None,
        latency_s: float = 0.0,
        student_system_prompt: str = "",
    ) -> None:
        self.teacher_script = list(teacher or [])
        self.critic_script = list(critic or [])
        self.self_check_script = list(self_check or [])
        self.latency_s = latency_s
        self.student_system_prompt = student_system_prompt
        self.plans: dict[str, list[str]] = {}
        self.seen: dict[str, int] = {}
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.teacher_requests = 0
        self._lock = threading.Lock()

    def next_behaviour(self, body: dict[str, Any]) -> tuple[str, str]:
        """(role, behaviour) for this request."""
        messages = body["messages"]
        system = messages[0]["content"]
        role = "critic" if "You grade training samples" in system else "teacher"
        if "You check an answer against the context" in system:
            role = "self_check"
        key = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        with self._lock:
            self.bodies.append(body)
            if role == "teacher":
                self.teacher_requests += 1
            if key not in self.plans:
                script = {
                    "teacher": self.teacher_script,
                    "critic": self.critic_script,
                    "self_check": self.self_check_script,
                }[role]
                self.plans[key] = script.pop(0) if script else ["ok"]
            n = self.seen.get(key, 0)
            self.seen[key] = n + 1
        plan = self.plans[key]
        return role, plan[min(n, len(plan) - 1)]

    def teacher_reply(self, behaviour: str, messages: list[dict[str, str]]) -> tuple[str, str | None, str]:
        """(content, reasoning, finish_reason) of a teacher reply."""
        user = messages[-1]["content"]
        if "Write the assistant's next reply" in user:
            last = user.rsplit("User: ", 1)[-1]
            return json.dumps({"answer": f"Here is a careful answer to: {last}"}), None, "stop"
        passages = (
            user.split("Passages:\n", 1)[1] if "Passages:\n" in user else user.split("Context:\n", 1)[1]
        )
        ids = IDS.findall(passages)
        texts = [t.split("] ", 1)[1] for t in passages.split("\n\n") if t.startswith("[c_")]
        texts = ["\n".join(line for line in t.split("\n") if not line.startswith("#")) for t in texts]
        first = [t.split(". ")[0].rstrip(".") + "." for t in texts]
        refusal = "Topic passage" in user
        if refusal:
            question, answer, sources = (
                "What is the exact release date of the next major version?",
                "I'm sorry, but the provided context does not contain enough information to answer that.",
                [],
            )
        else:
            used = ids[:2] if "BOTH passages" in user else ids[:1]
            used_text = [first[ids.index(i)] for i in used]
            question = f"What do the passages say about {used_text[0].split()[1].lower()} and related points?"
            answer = "According to the context, " + " ".join(used_text)
            sources = used
        reasoning = None
        finish = "stop"
        if behaviour == "think":
            answer = "<think>Let me check the passage first.</think>" + answer
            reasoning = REASONING
        elif behaviour == "leak":
            answer = self.student_system_prompt + " " + answer
        elif behaviour == "loop":
            answer += (
                "\n\nQuestion: What else does it say?\nAnswer: It says more."
                "\n\nQuestion: And then?\nAnswer: More."
            )
        elif behaviour == "secret":  # a teacher echoing a key it saw (a planted one, see planted_secrets)
            answer += " Authenticate with " + SECRET + " first."
            reasoning = "The key in my notes is " + SECRET + "."
        elif behaviour == "echo":
            answer = "No commentary."  # a format instruction of the teacher prompt, as the answer
        elif behaviour == "length":
            finish = "length"
        elif behaviour == "bad_schema":
            sources = ["c_000000000000"]
        content = json.dumps({"question": question, "answer": answer, "sources": sources})
        if behaviour == "bad_json":
            content = "Sure! Here is the JSON: {" + content[1:-10]
        elif behaviour == "think_outside":
            content = "<think>I should write JSON.</think>\n" + content
        return content, reasoning, finish

    def critic_reply(self, behaviour: str) -> str:
        if behaviour == "bad_json":
            return "The answer looks good, 4/5."
        score = {"low": 2, "high": 5}.get(behaviour, 4)
        scores = {c: score for c in ("groundedness", "correctness", "relevance", "format")}
        return json.dumps({**scores, "rationale": "Supported by the context." if score > 3 else "Weak."})


class _Handler(BaseHTTPRequestHandler):
    llm: ScriptedLLM
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.llm.headers.append({k.lower(): v for k, v in self.headers.items()})
        role, behaviour = self.llm.next_behaviour(body)
        if self.llm.latency_s:
            time.sleep(self.llm.latency_s)
        if behaviour == "429":
            return self._send(
                429, {"error": {"message": "rate limited", "type": "rate_limit"}}, {"Retry-After": "0"}
            )
        if behaviour == "500":
            return self._send(500, {"error": {"message": "internal error"}})
        if behaviour == "timeout":
            time.sleep(1.5)
            return self._send(500, {"error": {"message": "too late"}})
        if behaviour == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if role == "critic":
            content, reasoning, finish = self.llm.critic_reply(behaviour), None, "stop"
        elif role == "self_check":
            reply = {"supported": behaviour != "unsupported", "reason": "Checked against the context."}
            content = "Looks supported to me." if behaviour == "bad_json" else json.dumps(reply)
            reasoning, finish = None, "stop"
        else:
            content, reasoning, finish = self.llm.teacher_reply(behaviour, body["messages"])
        if self.path.endswith("/api/chat"):
            return self._send(200, _ollama(body, content, reasoning, finish))
        return self._send(200, _openai(body, content, reasoning, finish))

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _openai(body: dict[str, Any], content: str, reasoning: str | None, finish: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140},
    }


def _ollama(body: dict[str, Any], content: str, reasoning: str | None, finish: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["thinking"] = reasoning
    return {
        "model": body.get("model"),
        "created_at": "2025-01-01T00:00:00Z",
        "message": message,
        "done": True,
        "done_reason": finish,
        "prompt_eval_count": 100,
        "eval_count": 40,
    }


class LLMServer:
    """A ThreadingHTTPServer on 127.0.0.1 (free port) serving a ScriptedLLM."""

    def __init__(self, llm: ScriptedLLM) -> None:
        self.llm = llm
        handler = type("Handler", (_Handler,), {"llm": llm})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LLMServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
